#!/bin/sh
# Checks a binding's replay example against agentbudgetctl replay: both replay the
# same recorded run through the live ledger (admit, then charge each call's usage),
# so both must charge the same nanos. Without a budget, the charge must also equal
# the cost the source recorded for the run's calls.
# Run under run_with_daemon.sh:
#   check_replay_example.sh AGENTBUDGETCTL CALLS_JSONL RUN_ID BUDGET|none EXAMPLE [ARGS...]
# The example gets "--calls CALLS_JSONL --run RUN_ID [--budget BUDGET]" appended.
set -eu
ctl="$1"; calls="$2"; run="$3"; budget="$4"; shift 4
dir="$AB_TEST_TMPDIR/replay-$$"
mkdir -p "$dir"
grep -F "\"run_id\":\"$run\"" "$calls" > "$dir/calls.jsonl"
runs="$(dirname "$calls")/runs.jsonl"
[ -f "$runs" ] && grep -F "\"run_id\":\"$run\"" "$runs" > "$dir/runs.jsonl" || true
bopt=""; [ "$budget" = none ] || bopt="--budget $budget"

ctl_out=$("$ctl" replay --traces "$dir" $bopt --workers 1 --quiet --json)
ctl_charged=$(printf '%s\n' "$ctl_out" | grep -o '"charged_nanos": *[0-9]*' | grep -o '[0-9]*$')

ex_out=$("$@" --calls "$calls" --run "$run" $bopt)
printf '%s\n' "$ex_out"
summary=$(printf '%s\n' "$ex_out" | tail -n 1)
ex_charged=$(printf '%s\n' "$summary" | sed -n 's/.* charged_nanos=\([0-9]*\).*/\1/p')
ex_spent=$(printf '%s\n' "$summary" | sed -n 's/.* spent_nanos=\([0-9]*\).*/\1/p')
ex_recorded=$(printf '%s\n' "$summary" | sed -n 's/.* recorded_nanos=\([0-9]*\).*/\1/p')
ex_stopped=$(printf '%s\n' "$summary" | sed -n 's/.* stopped=\([a-z_]*\).*/\1/p')

fail=0
echo "agentbudgetctl replay charged $ctl_charged; the example charged $ex_charged (ledger: $ex_spent), recorded $ex_recorded, stopped: $ex_stopped"
[ -n "$ctl_charged" ] && [ "$ex_charged" = "$ctl_charged" ] || { echo "FAIL: example and agentbudgetctl replay differ"; fail=1; }
[ "$ex_spent" = "$ex_charged" ] || { echo "FAIL: the ledger's spent differs from the sum of charges"; fail=1; }
if [ "$budget" = none ]; then
  [ "$ex_recorded" = "$ex_charged" ] || { echo "FAIL: charged differs from the recorded cost"; fail=1; }
  [ "$ex_stopped" = none ] || { echo "FAIL: stopped without a budget"; fail=1; }
else
  [ "$ex_stopped" = run_hard_limit ] || { echo "FAIL: expected a stop at the run's hard limit"; fail=1; }
fi
exit $fail
