#!/bin/sh
# The ABI check. libagentbudget.so exports exactly the symbols committed for
# this version in ABI_DIR/MAJOR.MINOR.symbols ("name NODE" lines), each under
# its version-script node, none newer than this version; every symbol of an
# earlier minor version of the same major is still there, under the same
# node; the SONAME carries the major version; and the header's version
# macros are the project's. Adding a symbol therefore means a new minor
# version with its own committed list, and removing one a new major.
# Usage: check_exports.sh LIB ABI_DIR VERSION HEADER
set -eu
lib="$1"; abi="$2"; version="$3"; header="$4"
major="${version%%.*}"; rest="${version#*.}"; minor="${rest%%.*}"; patch="${rest#*.}"
fail() { echo "ABI check: $*" >&2; exit 1; }

for part in MAJOR:$major MINOR:$minor PATCH:$patch; do
  name="${part%%:*}"; want="${part#*:}"
  got="$(sed -n "s/^#define AB_VERSION_$name \([0-9]*\).*/\1/p" "$header")"
  [ "$got" = "$want" ] || fail "agentbudget.h says AB_VERSION_$name $got, the project is $version"
done

actual="$(nm -D --defined-only "$lib" | awk '$2=="T"{print $3}' | sed 's/@@/ /' | sort)"
list="$abi/$major.$minor.symbols"
[ -f "$list" ] || fail "no committed symbol list $list for version $version"
if [ "$actual" != "$(sort "$list")" ]; then
  echo "$actual" | diff "$list" - >&2 || true
  fail "exports differ from $list: a change of the exports needs a new version and its list"
fi
echo "$actual" | awk -v M="$major" -v m="$minor" '
  { n = split($2, v, "[_.]"); if ($2 !~ /^AGENTBUDGET_[0-9]+\.[0-9]+$/ || v[2] != M || v[3] > m) bad = bad " " $0 }
  END { if (bad) { print "symbols without a node of this major up to this version:" bad > "/dev/stderr"; exit 1 } }'
now="$(mktemp)"
trap 'rm -f "$now"' EXIT
echo "$actual" > "$now"
for older in "$abi/$major".*.symbols; do
  m="$(basename "$older" .symbols)"; m="${m#*.}"
  [ "$m" -lt "$minor" ] || continue
  missing="$(sort "$older" | comm -23 - "$now")"
  [ -z "$missing" ] || fail "symbols of $major.$m gone or moved without a new major version: $missing"
done

soname="$(objdump -p "$lib" | awk '/SONAME/{print $2}')"
[ "$soname" = "libagentbudget.so.$major" ] || fail "SONAME is $soname, not libagentbudget.so.$major"
echo "exports OK: $(echo "$actual" | wc -l) symbols of $version ($list), SONAME $soname"
