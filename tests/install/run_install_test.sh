#!/bin/sh
# `cmake --install` into a temporary prefix, then only the installed tree is
# used: its files and links are checked, a C and a C++ program are built
# against it with pkg-config and with find_package(agentbudget), and run
# against the installed agentbudgetd on a private ledger, which must load the
# installed price table.
#
# Usage: run_install_test.sh BUILD_DIR SOURCE_DIR CMAKE CC CXX VERSION BINDIR LIBDIR INCLUDEDIR DATADIR MANDIR
set -eu
build=$1 src=$2 cmake=$3 cc=$4 cxx=$5 version=$6
bindir=$7 libdir=$8 includedir=$9
shift 9
datadir=$1 mandir=$2
major=${version%%.*}

work=$(mktemp -d /tmp/abinstall.XXXXXX)
prefix=$work/prefix
ledger=abtest-install-$$
dpid=""
stop_daemon() {
  if [ -n "$dpid" ]; then
    kill -TERM "$dpid" 2>/dev/null || true
    wait "$dpid" 2>/dev/null || true
    dpid=""
  fi
}
cleanup() {
  stop_daemon
  for l in "$ledger" "$ledger-b"; do
    "$prefix/$bindir/agentbudgetd" --ledger "$l" --remove-ledger >/dev/null 2>&1 || true
    rm -f "/dev/shm/$l.v1.lock"
  done
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

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }

step "installed files"
for f in "$bindir/agentbudgetd" "$bindir/agentbudgetctl"; do
  [ -x "$prefix/$f" ] || fail "$f is not installed"
done
for f in "$includedir/agentbudget.h" \
         "$libdir/pkgconfig/agentbudget.pc" \
         "$libdir/cmake/agentbudget/agentbudgetConfig.cmake" \
         "$libdir/cmake/agentbudget/agentbudgetConfigVersion.cmake" \
         "$libdir/cmake/agentbudget/agentbudgetTargets.cmake" \
         lib/systemd/system/agentbudgetd.service lib/sysusers.d/agentbudget.conf \
         "$mandir/man8/agentbudgetd.8.gz" "$mandir/man1/agentbudgetctl.1.gz" \
         "$datadir/agentbudget/prices/litellm_model_prices_and_context_window.json" \
         "$datadir/agentbudget/prices/README.md" \
         "$datadir/doc/agentbudget/agentbudgetd.toml.example"; do
  [ -f "$prefix/$f" ] || fail "$f is not installed"
done
cmp "$src/capi/agentbudget.h" "$prefix/$includedir/agentbudget.h" || fail "installed header differs"
cmp "$src/data/prices/litellm_model_prices_and_context_window.json" \
    "$prefix/$datadir/agentbudget/prices/litellm_model_prices_and_context_window.json" || fail "installed price table differs"

step "SONAME links: libagentbudget.so -> .so.$major -> .so.$version"
lib=$prefix/$libdir
[ -L "$lib/libagentbudget.so" ] && [ "$(readlink "$lib/libagentbudget.so")" = "libagentbudget.so.$major" ] ||
  fail "libagentbudget.so is not a link to libagentbudget.so.$major"
[ -L "$lib/libagentbudget.so.$major" ] && [ "$(readlink "$lib/libagentbudget.so.$major")" = "libagentbudget.so.$version" ] ||
  fail "libagentbudget.so.$major is not a link to libagentbudget.so.$version"
[ -f "$lib/libagentbudget.so.$version" ] && [ ! -L "$lib/libagentbudget.so.$version" ] || fail "no libagentbudget.so.$version"
soname=$(readelf -d "$lib/libagentbudget.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libagentbudget.so.$major" ] || fail "SONAME is '$soname'"
# No build RPATH left in what was installed; agentbudgetctl finds the library from bin/.
readelf -d "$lib/libagentbudget.so.$version" | grep -q -e '(RPATH)' -e '(RUNPATH)' && fail "libagentbudget.so has an RPATH"
readelf -d "$prefix/$bindir/agentbudgetctl" | grep -e '(RPATH)' -e '(RUNPATH)' | grep -q "$build" && fail "agentbudgetctl keeps the build RPATH"
uses_lib "$prefix/$bindir/agentbudgetctl" "$lib" ||
  { ldd "$prefix/$bindir/agentbudgetctl"; fail "installed agentbudgetctl does not use the installed library"; }

step "configured files name the install prefix, never the build tree"
grep -qx "prefix=$prefix" "$lib/pkgconfig/agentbudget.pc" || fail "agentbudget.pc: prefix"
grep -qx "ExecStart=$prefix/$bindir/agentbudgetd --config /etc/agentbudget/agentbudgetd.toml --config-optional" \
  "$prefix/lib/systemd/system/agentbudgetd.service" || fail "agentbudgetd.service: ExecStart"
grep -qx "Type=notify" "$prefix/lib/systemd/system/agentbudgetd.service" || fail "agentbudgetd.service: Type"
if grep -rlI -e "$build" -e "$src/" "$prefix/$libdir/pkgconfig" "$prefix/$libdir/cmake" "$prefix/lib/systemd"; then
  fail "installed files name the build or source tree"
fi

step "man pages render (man -l) without warnings"
for page in "$mandir/man8/agentbudgetd.8.gz" "$mandir/man1/agentbudgetctl.1.gz"; do
  MANWIDTH=80 man -l --warnings -E ascii "$prefix/$page" >"$work/page.txt" 2>"$work/page.err" || fail "man -l $page"
  [ ! -s "$work/page.err" ] || { cat "$work/page.err"; fail "man -l $page: warnings"; }
  for section in NAME SYNOPSIS OPTIONS FILES "EXIT STATUS" "SEE ALSO"; do
    grep -q "^$section" "$work/page.txt" || fail "$page has no $section section"
  done
done
MANWIDTH=80 man -l -E ascii "$prefix/$mandir/man8/agentbudgetd.8.gz" 2>/dev/null | grep -q "^SIGNALS" ||
  fail "agentbudgetd(8) has no SIGNALS section"

step "installed agentbudgetd on ledger $ledger"
mkdir -p "$work/state" "$work/run"
export AGENTBUDGET_LEDGER="$ledger" STATE_DIRECTORY="$work/state" RUNTIME_DIRECTORY="$work/run"
unset AGENTBUDGET_SOCKET 2>/dev/null || true
start_daemon() {
  "$prefix/$bindir/agentbudgetd" --ledger "$1" --log-level warn &
  dpid=$!
  i=0
  until [ -S "$work/run/$1.sock" ] || [ $i -ge 100 ]; do
    kill -0 "$dpid" 2>/dev/null || fail "agentbudgetd exited at start"
    sleep 0.1; i=$((i + 1))
  done
  [ -S "$work/run/$1.sock" ] || fail "agentbudgetd did not open its control socket"
}
start_daemon "$ledger"
ctl="$prefix/$bindir/agentbudgetctl"
"$ctl" --ledger "$ledger" status --json >"$work/status.json" || fail "agentbudgetctl status"
grep -q '"models":2539[,}]' "$work/status.json" || { cat "$work/status.json"; fail "the installed daemon did not load 2539 priced models"; }
"$ctl" --ledger "$ledger" status | grep "priced models" || fail "agentbudgetctl status (text)"

step "pkg-config"
export PKG_CONFIG_PATH="$lib/pkgconfig"
[ "$(pkg-config --modversion agentbudget)" = "$version" ] || fail "pkg-config --modversion"
[ "$(pkg-config --variable=libdir agentbudget)" = "$lib" ] || fail "pkg-config libdir"
cflags=$(pkg-config --cflags agentbudget)
[ "${cflags% }" = "-I$prefix/$includedir" ] || fail "pkg-config --cflags: $cflags"
flags="$(pkg-config --cflags --libs agentbudget) -Wl,-rpath,$(pkg-config --variable=libdir agentbudget)"
# shellcheck disable=SC2086
"$cc" -std=c99 -pedantic -Wall -Wextra -Werror "$src/tests/install/c_program.c" $flags -o "$work/c_pc" ||
  fail "C program with pkg-config"
# shellcheck disable=SC2086
"$cxx" -std=c++17 -Wall -Wextra -Werror "$src/tests/install/cpp_program.cpp" $flags -o "$work/cpp_pc" ||
  fail "C++ program with pkg-config"

step "find_package(agentbudget)"
"$cmake" -S "$src/tests/install/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" 2>&1 ||
  { cat "$work/consumer.log"; fail "configure the find_package consumer"; }
grep -q "agentbudget $version from $lib/cmake/agentbudget" "$work/consumer.log" ||
  { cat "$work/consumer.log"; fail "find_package did not find the installed package"; }
"$cmake" --build "$work/consumer" >>"$work/consumer.log" 2>&1 || { cat "$work/consumer.log"; fail "build the find_package consumer"; }

step "the four programs against the live daemon"
for p in c_pc cpp_pc consumer/c_program consumer/cpp_program; do
  uses_lib "$work/$p" "$lib" ||
    { ldd "$work/$p"; fail "$p does not use the installed library"; }
done
"$work/c_pc" "$ledger" run-c-pkgconfig || fail "c_program (pkg-config)"
"$work/consumer/c_program" "$ledger" run-c-cmake || fail "c_program (find_package)"
"$work/cpp_pc" "$ledger" run-cpp-pkgconfig || fail "cpp_program (pkg-config)"
"$work/consumer/cpp_program" "$ledger" run-cpp-cmake || fail "cpp_program (find_package)"
# The daemon sees the same runs.
for r in run-c-pkgconfig:1000000000 run-c-cmake:1000000000 run-cpp-pkgconfig:800000000 run-cpp-cmake:800000000; do
  id=${r%%:*} spent=${r#*:}
  "$ctl" --ledger "$ledger" run "$id" --json >"$work/run.json" || fail "agentbudgetctl run $id"
  grep -q "\"spent_nanos\":$spent[,}]" "$work/run.json" || { cat "$work/run.json"; fail "run $id: spent is not $spent"; }
done

step "SIGTERM stops the installed daemon with status 0"
kill -TERM "$dpid"
rc=0; wait "$dpid" || rc=$?
dpid=""
[ "$rc" -eq 0 ] || fail "agentbudgetd exited with $rc"

step "the installed daemon reads the installed price table (not the source tree's)"
cat >"$prefix/$datadir/agentbudget/prices/litellm_model_prices_and_context_window.json" <<'EOF'
{"install-test-model": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                        "litellm_provider": "openai", "mode": "chat"}}
EOF
start_daemon "$ledger-b"
"$ctl" --ledger "$ledger-b" status --json >"$work/status.json" || fail "agentbudgetctl status"
grep -q '"models":1[,}]' "$work/status.json" || { cat "$work/status.json"; fail "the installed daemon did not read the installed table"; }
stop_daemon

echo "install test: OK"
