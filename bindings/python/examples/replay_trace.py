#!/usr/bin/env python3
"""Replays one recorded agent run through the Python binding, as the agent would have run
under a budget: before each LLM call, ask whether any budget is left; after it, charge the
call's usage exactly as the provider reported it.

    AGENTBUDGET_LEDGER=... python3 replay_trace.py \
        --calls ../../../data/traces/mini_swe_agent_gemini3pro/calls.jsonl \
        --run mswea-gemini3pro-astropy__astropy-14508 --budget 0.25

The last line is a summary: calls, charged_nanos, recorded_nanos (the source's own cost of
the calls made, where it recorded one) and why the run stopped.
"""
import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package, without installing it
import agentbudget as ab  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", required=True, help="a calls.jsonl file of data/traces")
    p.add_argument("--run", required=True, help="the run_id to replay")
    p.add_argument("--budget", help="hard limit of the run, USD (default: the policy's)")
    p.add_argument("--ledger", help="ledger name (default: $AGENTBUDGET_LEDGER)")
    args = p.parse_args()

    calls = []
    with open(args.calls) as f:
        for line in f:
            if f'"{args.run}"' not in line:
                continue
            c = json.loads(line, parse_float=Decimal)   # recorded costs stay exact
            if c["run_id"] == args.run:
                calls.append(c)
    calls.sort(key=lambda c: c["seq"])
    if not calls:
        print(f"no calls of {args.run} in {args.calls}", file=sys.stderr)
        return 2

    ledger = ab.Ledger(args.ledger)
    run_id = f"example-py-{os.getpid()}-{args.run}"[:127]
    charged = recorded = made = 0
    stopped = "none"
    with ledger.run(run_id, budget=args.budget, labels={"agent": "replay"}) as run:
        for c in calls:
            try:
                run.check()                               # is any budget left?
            except ab.BudgetExceeded as e:
                stopped = e.reason
                print(f"call {c['seq']:>3}: denied ({e.reason}); the agent stops here")
                break
            # The Portkey route reports Gemini's reasoning outside completion_tokens.
            sep = True if c.get("provider") == "google" else None
            r = run.charge_usage(c["model"], c["raw_usage"], reasoning_separate=sep)
            made += 1
            charged += r.nanos
            if c.get("cost_usd") is not None:
                recorded += ab.usd_to_nanos(c["cost_usd"])
            st = run.status()
            note = " over hard limit" if r.over_hard else (" over a soft threshold" if r.over_soft else "")
            print(f"call {c['seq']:>3}: {c['model']} charged ${r.usd:.9f}, run at ${st.spent_usd:.9f}{note}")
        st = run.status()
    print(f"run {args.run}: calls={made}/{len(calls)} charged_nanos={charged} spent_nanos={st.spent_nanos} "
          f"recorded_nanos={recorded} stopped={stopped}")
    ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
