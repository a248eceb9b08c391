#!/bin/sh
# The static checks of `make test`: formatting (clang-format, .clang-format),
# cppcheck, and clang-tidy (.clang-tidy) on every translation unit of the
# libraries, the daemon and the tools. Any finding fails.
# Usage: scripts/static_analysis.sh BUILD_DIR   (a configured build: compile_commands.json)
set -eu
BUILD="${1:-build}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SOURCES="$(git ls-files '*.c' '*.h' '*.cpp' | grep -v '^data/')"

echo "clang-format: $(echo "$SOURCES" | wc -l) files"
# shellcheck disable=SC2086
clang-format --dry-run --Werror $SOURCES

echo "cppcheck: libcore capi daemon tools"
cppcheck --quiet --enable=warning,performance,portability --std=c++20 --inline-suppr --error-exitcode=1 \
  -j "$(nproc)" -Ilibcore -Icapi -Idaemon -Itools/ctl --suppress=missingIncludeSystem libcore capi daemon tools

echo "clang-tidy: libcore capi daemon tools"
run-clang-tidy-14 -p "$BUILD" -j "$(nproc)" -quiet '(libcore|capi|daemon|tools/ctl)/[^/]*\.cpp$' > "$BUILD/clang-tidy.log" 2>&1 || {
  grep -E "(error|warning):" "$BUILD/clang-tidy.log" | grep -v "warnings generated" | sed 's/\x1b\[[0-9;]*m//g'
  echo "clang-tidy found problems; the whole log: $BUILD/clang-tidy.log"
  exit 1
}
echo "static analysis: clean"
