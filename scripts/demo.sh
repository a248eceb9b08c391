#!/bin/sh
# The main job: agentbudgetd on its built-in default configuration, and the
# real agent runs bundled in data/traces replayed through the live ledger
# from several worker processes. Usage: scripts/demo.sh BUILD_DIR
set -eu
BUILD="${1:-build}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
D="$BUILD/daemon/agentbudgetd"
CTL="$BUILD/tools/agentbudgetctl"
# A ledger of its own, so the demo never touches a production ledger.
export AGENTBUDGET_LEDGER="agentbudget-demo"
# Its snapshot, history and control socket in a folder of its own too, the
# way systemd hands them to the service (the configuration stays built in).
WORK="$(mktemp -d /tmp/agentbudget-demo.XXXXXX)"
export STATE_DIRECTORY="$WORK/state" RUNTIME_DIRECTORY="$WORK/run"
mkdir -p "$STATE_DIRECTORY" "$RUNTIME_DIRECTORY"
LOG="$WORK/agentbudgetd.log"

"$D" > "$LOG" 2>&1 &
DPID=$!
WPID=""
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null || true
  kill "$DPID" 2>/dev/null || true
  wait "$DPID" 2>/dev/null || true
  "$D" --remove-ledger > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
i=0
until "$CTL" status > /dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 "$DPID" 2>/dev/null; then
    echo "agentbudgetd did not start:"; cat "$LOG"; exit 1
  fi
  sleep 0.1
done

section() { printf '\n=== %s ===\n' "$1"; }

section "agentbudgetd (built-in default configuration)"
head -n 1 "$LOG"
"$CTL" status

section "1. Replay every bundled run with no budget: what the agents really cost"
"$CTL" replay --traces "$ROOT/data/traces" --prefix unlimited --quiet

sleep 1.2  # the daemon records the closed runs in its history within a second
section "What budget should a run get? agentbudgetctl suggest, from the closed runs above"
"$CTL" suggest

# From here on, the daemon's live event stream, as an operator would watch it.
"$CTL" watch > "$WORK/watch.log" 2>&1 &
WPID=$!
sleep 0.2

section "2. The same runs with a \$1.00 hard limit and a \$0.50 soft threshold per run"
OUT="$(mktemp)"
"$CTL" replay --traces "$ROOT/data/traces" --budget 1.00 --soft 0.50 --prefix budget1 > "$OUT"
grep -E "STOPPED|unpriced" "$OUT" | head -n 25
echo "  ... (runs that finished under budget not shown)"
grep -E "runs, |recorded by|charged by|mode:|overshoot|fallback" "$OUT"
rm -f "$OUT"

section "3. \$1.00 per run with reservations: each call first reserves its worst case"
"$CTL" replay --traces "$ROOT/data/traces" --budget 1.00 --mode reserve --prefix reserve1 --quiet | grep -E "runs, |charged by|mode:|overshoot"
echo "  (the worst case of a Gemini 3 Pro call is its 65,535-token maximum output, about \$0.80, so runs stop"
echo "   earlier than in charge mode, and none ends past its budget)"

section "4. The loop guard: deny the call that repeats the same action 3 times in a row"
OUT="$(mktemp)"
"$CTL" replay --traces "$ROOT/data/traces" --loop-limit 3 --prefix loop3 > "$OUT"
grep -E "STOPPED" "$OUT" | head -n 5
grep -E "mode:" "$OUT"
rm -f "$OUT"

section "5. A tight \$0.25 budget, as JSON"
"$CTL" replay --traces "$ROOT/data/traces" --budget 0.25 --prefix budget025 --json

sleep 1.2  # one full daemon pass delivers the last events
section "What the daemon said: its event stream (agentbudgetctl watch), 12 of $(($(wc -l < "$WORK/watch.log") - 1)) events"
grep -v " run_closed " "$WORK/watch.log" | head -n 12
for k in soft_threshold hard_limit call_denied loop_detected unpriced_model run_closed; do
  printf '  %-16s %s\n' "$k" "$(grep -c " $k " "$WORK/watch.log" || true)"
done

section "The same events in the daemon's history database (agentbudgetctl history)"
"$CTL" history --kind hard_limit --limit 5

section "The costliest runs in the ledger"
"$CTL" runs --closed --limit 8
