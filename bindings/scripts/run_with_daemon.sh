#!/bin/sh
# Runs a command against a private agentbudgetd: a unique ledger name, its own
# state folder and control socket, and everything removed at the end (also on
# failure). The command sees AGENTBUDGET_LEDGER set to the private ledger.
#   run_with_daemon.sh AGENTBUDGETD COMMAND [ARGS...]
set -eu
daemon="$1"; shift
ledger="abtest-bind-$$-$(date +%s%N | tail -c 7)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/abtest-bind-XXXXXX")
dpid=""
mkdir -p "$tmp/state" "$tmp/run"
cleanup() {
  [ -n "$dpid" ] && { kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; }
  "$daemon" --ledger "$ledger" --remove-ledger >/dev/null 2>&1 || true
  rm -f "/dev/shm/$ledger.v1.lock"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
STATE_DIRECTORY="$tmp/state" RUNTIME_DIRECTORY="$tmp/run" "$daemon" --ledger "$ledger" --log-level error &
dpid=$!
i=0
until [ -e "/dev/shm/$ledger.v1" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
[ -e "/dev/shm/$ledger.v1" ] || { echo "run_with_daemon: agentbudgetd did not create $ledger" >&2; exit 1; }
sleep 0.2
export AGENTBUDGET_LEDGER="$ledger"
export AB_TEST_TMPDIR="$tmp"
set +e
"$@"
rc=$?
set -e
exit $rc
