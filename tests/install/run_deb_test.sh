#!/bin/sh
# Builds the .deb with CPack and checks it without installing it on this
# machine: its control fields, file list and maintainer scripts (dpkg-deb),
# then, unpacked into a throwaway root, the maintainer scripts run against
# that root (DPKG_ROOT, as `dpkg --root` runs them: users and groups created
# there by systemd-sysusers, the unit enabled there by deb-systemd-helper,
# nothing started) and the packaged daemon serves a private ledger and stops
# on SIGTERM.
#
# Usage: run_deb_test.sh BUILD_DIR CPACK VERSION LIBDIR
set -eu
build=$1 cpack=$2 version=$3 libdir=$4
major=${version%%.*}
arch=$(dpkg --print-architecture)

work=$(mktemp -d /tmp/abdeb.XXXXXX)
root=$work/root
ledger=abtest-deb-$$
dpid=""
cleanup() {
  if [ -n "$dpid" ]; then kill -TERM "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
  if [ -x "$root/usr/bin/agentbudgetd" ]; then
    "$root/usr/bin/agentbudgetd" --ledger "$ledger" --remove-ledger >/dev/null 2>&1 || true
  fi
  rm -f "/dev/shm/$ledger.v1.lock"
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# BINARY loads libagentbudget.so.MAJOR from LIBDIR (ldd may show it as bin/../lib/...).
uses_lib() {
  got=$(ldd "$1" | sed -n "s/^[[:space:]]*libagentbudget\.so\.$major => \(.*\) (0x.*/\1/p")
  [ -n "$got" ] && [ "$(readlink -f "$got")" = "$(readlink -f "$2/libagentbudget.so.$major")" ]
}
host_state() { cat /etc/passwd /etc/group; ls -la /etc/systemd/system/multi-user.target.wants 2>/dev/null || true; }
host_before=$(host_state | md5sum)

step "cpack -G DEB"
"$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack"; }
deb=$work/pkg/agentbudget_${version}_${arch}.deb
[ -f "$deb" ] || { ls "$work/pkg"; fail "no $deb"; }

step "control fields (dpkg-deb -I)"
dpkg-deb -I "$deb" >"$work/info" || fail "dpkg-deb -I"
cat "$work/info"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = agentbudget ] || fail "Package"
[ "$(field Version)" = "$version" ] || fail "Version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture"
[ "$(field Section)" = admin ] || fail "Section"
[ -n "$(field Maintainer)" ] && [ -n "$(field Installed-Size)" ] || fail "Maintainer, Installed-Size"
[ "$(field Description | head -1)" = "run-level cost budgets for AI agents" ] || fail "Description"
field Description | grep -qx " agentbudgetd owns a shared-memory ledger of agent runs with atomic counters;" ||
  fail "Description body"
depends=$(field Depends)
# Computed by dpkg-shlibdeps from the binaries, plus the maintainer scripts' tools.
for dep in "libc6 (>=" "libstdc++6 (>=" "libsystemd0" "libsqlite3-0 (>=" "libspdlog1" \
           "init-system-helpers (>= 1.54~)" "systemd | adduser"; do
  case "$depends" in *"$dep"*) ;; *) fail "Depends lacks '$dep': $depends" ;; esac
done
case "$depends" in *agentbudget*) fail "Depends on itself: $depends" ;; esac

step "files (dpkg-deb -c)"
dpkg-deb -c "$deb" >"$work/contents" || fail "dpkg-deb -c"
# name -> link target, or name alone for a file or folder
awk '{ name = $6; sub(/^\.\//, "/", name); if ($7 == "->") print name " -> " $8; else print name }' \
  "$work/contents" >"$work/files"
cat "$work/files"
lib=/usr/$libdir
for f in /usr/bin/agentbudgetd /usr/bin/agentbudgetctl \
         "$lib/libagentbudget.so.$version" \
         "$lib/libagentbudget.so.$major -> libagentbudget.so.$version" \
         "$lib/libagentbudget.so -> libagentbudget.so.$major" \
         /usr/include/agentbudget.h "$lib/pkgconfig/agentbudget.pc" \
         "$lib/cmake/agentbudget/agentbudgetConfig.cmake" \
         "$lib/cmake/agentbudget/agentbudgetConfigVersion.cmake" \
         "$lib/cmake/agentbudget/agentbudgetTargets.cmake" \
         /usr/lib/systemd/system/agentbudgetd.service /usr/lib/sysusers.d/agentbudget.conf \
         /usr/share/man/man8/agentbudgetd.8.gz /usr/share/man/man1/agentbudgetctl.1.gz \
         /usr/share/agentbudget/prices/litellm_model_prices_and_context_window.json \
         /usr/share/agentbudget/prices/README.md \
         /usr/share/doc/agentbudget/agentbudgetd.toml.example; do
  grep -qxF "$f" "$work/files" || fail "the package lacks $f"
done
# Everything under /usr, owned by root, nothing writable by others.
grep -v -e '^/$' -e '^/usr/' "$work/files" && fail "files outside /usr"
awk '$2 != "root/root" { print; bad = 1 } END { exit bad }' "$work/contents" || fail "files not owned by root"
awk 'substr($1, 9, 1) == "w" && substr($1, 1, 1) != "l" { print; bad = 1 } END { exit bad }' "$work/contents" ||
  fail "world-writable files"

step "maintainer scripts and control files (dpkg-deb -e)"
dpkg-deb -e "$deb" "$work/control" || fail "dpkg-deb -e"
for s in postinst prerm postrm; do
  [ -x "$work/control/$s" ] || fail "$s missing or not executable"
  head -1 "$work/control/$s" | grep -qx '#!/bin/sh' || fail "$s: not a /bin/sh script"
  grep -qx 'set -e' "$work/control/$s" || fail "$s: no set -e"
  sh -n "$work/control/$s" || fail "$s: syntax"
done
has() { grep -qF -- "$2" "$work/control/$1" || fail "$1 lacks: $2"; }
has postinst 'systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} agentbudget.conf'
has postinst 'adduser --quiet --system --ingroup agentbudget'
has postinst "deb-systemd-helper enable 'agentbudgetd.service'"
has postinst "deb-systemd-helper --quiet was-enabled 'agentbudgetd.service'"
has postinst 'if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then'
has postinst "deb-systemd-invoke \$_dh_action 'agentbudgetd.service'"
has prerm 'if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then'
has prerm "deb-systemd-invoke stop 'agentbudgetd.service'"
has postrm "deb-systemd-helper mask 'agentbudgetd.service'"
has postrm "deb-systemd-helper purge 'agentbudgetd.service'"
grep -qx "libagentbudget $major agentbudget (>= $version)" "$work/control/shlibs" || fail "shlibs: $(cat "$work/control/shlibs")"
grep -qx "activate-noawait ldconfig" "$work/control/triggers" || fail "no ldconfig trigger"
grep -q " usr/bin/agentbudgetd$" "$work/control/md5sums" || fail "md5sums"

step "unpacked (dpkg-deb -x): paths of the package, stripped binaries"
dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x"
unit=$root/usr/lib/systemd/system/agentbudgetd.service
grep -qx "ExecStart=/usr/bin/agentbudgetd --config /etc/agentbudget/agentbudgetd.toml --config-optional" "$unit" ||
  fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -qx "Documentation=file:///usr/share/doc/agentbudget/agentbudgetd.toml.example" "$unit" || fail "unit Documentation"
grep -qx "WantedBy=multi-user.target" "$unit" || fail "unit WantedBy"
grep -qx "prefix=/usr" "$root$lib/pkgconfig/agentbudget.pc" || fail "pc prefix"
grep -qx "libdir=\${prefix}/$libdir" "$root$lib/pkgconfig/agentbudget.pc" || fail "pc libdir"
if grep -rlI -e "$build" -e "$work/pkg" "$root/usr/lib" "$root/usr/share/doc"; then fail "files name the build tree"; fi
for b in usr/bin/agentbudgetd usr/bin/agentbudgetctl "usr/$libdir/libagentbudget.so.$version"; do
  readelf -S "$root/$b" | grep -q '\.debug_info' && fail "$b is not stripped"
done
[ "$(readelf -d "$root$lib/libagentbudget.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = "libagentbudget.so.$major" ] ||
  fail "SONAME"

step "postinst configure into the throwaway root (DPKG_ROOT=$root)"
mkdir -p "$root/etc" "$root/var/lib"
: >"$root/etc/passwd"; : >"$root/etc/group"; : >"$root/etc/shadow"; : >"$root/etc/gshadow"
# As dpkg runs a maintainer script (deb-systemd-helper insists on it).
maint() {
  script=$1; shift
  DPKG_ROOT=$root DPKG_MAINTSCRIPT_PACKAGE=agentbudget DPKG_MAINTSCRIPT_NAME=$script "$work/control/$script" "$@"
}
maint postinst configure || fail "postinst configure"
grep -q '^agentbudget:x:[0-9]*:[0-9]*:agentbudget ledger daemon:/var/lib/agentbudget:' "$root/etc/passwd" ||
  { cat "$root/etc/passwd"; fail "user agentbudget not created"; }
grep -q '^agentbudget:x:' "$root/etc/group" && grep -q '^agentbudget-admin:x:' "$root/etc/group" ||
  { cat "$root/etc/group"; fail "groups agentbudget, agentbudget-admin not created"; }
link=$root/etc/systemd/system/multi-user.target.wants/agentbudgetd.service
[ "$(readlink "$link")" = /usr/lib/systemd/system/agentbudgetd.service ] || fail "the service is not enabled"
[ -e "$root/var/lib/systemd/deb-systemd-helper-enabled/agentbudgetd.service.dsh-also" ] ||
  fail "deb-systemd-helper state not recorded"
# Again (an upgrade): idempotent.
maint postinst configure "$version" || fail "postinst configure (upgrade)"
[ "$(grep -c '^agentbudget:' "$root/etc/passwd")" -eq 1 ] || fail "user created twice"

step "prerm remove, postrm remove (masked) and purge (forgotten) in the throwaway root"
maint prerm remove || fail "prerm remove"
maint postrm remove || fail "postrm remove"
# Removed, not purged: masked (as debhelper does), the enablement kept for a reinstall.
[ "$(readlink "$root/etc/systemd/system/agentbudgetd.service")" = /dev/null ] || fail "the service is not masked after remove"
maint postrm purge || fail "postrm purge"
[ ! -L "$link" ] || fail "the service is still enabled after purge"
[ ! -L "$root/etc/systemd/system/agentbudgetd.service" ] || fail "the mask is left after purge"
[ ! -e "$root/var/lib/systemd/deb-systemd-helper-enabled/agentbudgetd.service.dsh-also" ] ||
  fail "deb-systemd-helper state left after purge"
[ "$(host_state | md5sum)" = "$host_before" ] || fail "the host's users, groups or units changed"

step "the packaged daemon serves a private ledger"
mkdir -p "$work/state" "$work/run"
export AGENTBUDGET_LEDGER="$ledger" STATE_DIRECTORY="$work/state" RUNTIME_DIRECTORY="$work/run"
unset AGENTBUDGET_SOCKET 2>/dev/null || true
"$root/usr/bin/agentbudgetd" --check | grep -q "OK (" || fail "agentbudgetd --check"
"$root/usr/bin/agentbudgetd" --log-level warn &
dpid=$!
i=0
until [ -S "$work/run/$ledger.sock" ] || [ $i -ge 100 ]; do
  kill -0 "$dpid" 2>/dev/null || fail "agentbudgetd exited at start"
  sleep 0.1; i=$((i + 1))
done
uses_lib "$root/usr/bin/agentbudgetctl" "$root$lib" ||
  { ldd "$root/usr/bin/agentbudgetctl"; fail "agentbudgetctl does not find the packaged library"; }
"$root/usr/bin/agentbudgetctl" status --json >"$work/status.json" || fail "agentbudgetctl status"
grep -q '"models":2539[,}]' "$work/status.json" || { cat "$work/status.json"; fail "the packaged price table was not loaded"; }
"$root/usr/bin/agentbudgetctl" status
kill -TERM "$dpid"
rc=0; wait "$dpid" || rc=$?
dpid=""
[ "$rc" -eq 0 ] || fail "agentbudgetd exited with $rc on SIGTERM"
[ -f "$work/state/$ledger.snapshot" ] || fail "no snapshot written at stop"

echo "deb test: OK"
