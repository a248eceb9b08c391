#!/bin/sh
# Runs one fuzz target: every kept regression input once (crashes found
# before, fixed since), then SECONDS of fuzzing from the committed seeds.
# New inputs go to a scratch corpus, never into the source tree; a crash
# leaves its input in ARTIFACTS (add it to regressions/TARGET once fixed).
# Usage: run_fuzz.sh BINARY SEEDS REGRESSIONS ARTIFACTS SECONDS
set -eu
bin=$1 seeds=$2 regressions=$3 artifacts=$4 seconds=$5
name=$(basename "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts" "$work/corpus"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
  echo "$name: $(ls "$regressions" | wc -l) regression inputs"
  "$bin" -runs=0 "$regressions" 2>&1 | tail -n 3
fi
echo "$name: fuzzing for ${seconds}s from $(ls "$seeds" | wc -l) seeds"
"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$artifacts/$name-" -print_final_stats=1 "$work/corpus" "$seeds" > "$work/log" 2>&1 || {
  cat "$work/log"
  echo "$name: FAILED; the input is in $artifacts" >&2
  exit 1
}
grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$work/log" || tail -n 5 "$work/log"
