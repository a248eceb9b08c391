#!/bin/sh
# The shared library exports exactly the committed list of ab_* symbols,
# each versioned, and its SONAME carries the major version.
set -eu
lib="$1"; expected="$2"; major="$3"
actual="$(nm -D --defined-only "$lib" | awk '$2=="T"{print $3}' | sed 's/@.*//' | sort)"
if [ "$actual" != "$(cat "$expected")" ]; then
  echo "exported symbols differ from $expected:"
  echo "$actual" | diff "$expected" - || true
  exit 1
fi
unversioned="$(nm -D --defined-only "$lib" | awk '$2=="T" && $3 !~ /@@AGENTBUDGET_0\.[0-9]+$/ {print $3}')"
[ -z "$unversioned" ] || { echo "unversioned exports: $unversioned"; exit 1; }
soname="$(objdump -p "$lib" | awk '/SONAME/{print $2}')"
[ "$soname" = "libagentbudget.so.$major" ] || { echo "SONAME is $soname"; exit 1; }
echo "exports OK: $(echo "$actual" | wc -l) symbols, SONAME $soname"
