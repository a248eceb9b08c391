#!/bin/sh
# Runs the C99 program against a live agentbudgetd on a private ledger.
set -eu
prog="$1"; daemon="$2"
ledger="abtest-c-$$"
# Snapshot, history and control socket in a folder of its own.
state="$(mktemp -d)"
STATE_DIRECTORY="$state" RUNTIME_DIRECTORY="$state" "$daemon" --ledger "$ledger" --log-level warn &
dpid=$!
trap 'kill $dpid 2>/dev/null; wait $dpid 2>/dev/null; "$daemon" --ledger "$ledger" --remove-ledger >/dev/null; rm -f "/dev/shm/$ledger.v1.lock"; rm -rf "$state"' EXIT
i=0
until [ -e "/dev/shm/$ledger.v1" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
sleep 0.2
"$prog" "$ledger"
