#!/bin/sh
# A newcomer's check, run before every release: clones the repository into
# a temporary folder and runs the two commands of the README's "The two
# commands" section exactly as written there, in order, each with its own
# log and time. Exits non-zero if either fails.
# Usage: scripts/newcomer_check.sh [REPOSITORY]   (default: this checkout's HEAD)
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REPO="${1:-$ROOT}"
WORK="$(mktemp -d /tmp/agentbudget-newcomer.XXXXXX)"
echo "newcomer check in $WORK"
git clone -q "$REPO" "$WORK/agentbudget"
cd "$WORK/agentbudget"
# The commands, read from the README itself: the lines of its first sh
# block under "## The two commands", without their comments.
COMMANDS="$(awk '/^## The two commands/{s=1} s&&/^```sh/{b=1;next} b&&/^```/{exit} b' README.md | sed 's/ *#.*//')"
[ -n "$COMMANDS" ] || { echo "no commands found in README.md"; exit 1; }
n=0
echo "$COMMANDS" | while IFS= read -r cmd; do
  [ -n "$cmd" ] || continue
  n=$((n + 1))
  log="$WORK/command-$n.log"
  echo "== $cmd   (log: $log)"
  start=$(date +%s)
  if ! sh -c "$cmd" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "FAILED: '$cmd' after $(( $(date +%s) - start )) s"
    exit 1
  fi
  tail -n 3 "$log"
  echo "ok: '$cmd' in $(( $(date +%s) - start )) s"
done
echo "newcomer check passed; the clone is in $WORK/agentbudget"
