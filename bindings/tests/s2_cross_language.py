#!/usr/bin/env python3
"""Scenario S2 across languages: over budget is over budget everywhere.

A Python process begins a run with hard = $10.00 and charges $10.50 (recorded past the
limit). While it holds the run open, each peer program given on the command line (the
Rust and the Go s2_peer) attaches to the same run id through its own library instance
and handle, must see exactly the Python process's spend, must be denied a $0.01 call with
reason run_hard_limit, and charges $0.25. The Python process then sees every peer's
charge, to the nano, and is still denied.
    s2_cross_language.py PEER [PEER...]
"""
import os
import subprocess
import sys

import agentbudget as ab


def main() -> int:
    peers = sys.argv[1:]
    ledger = ab.Ledger()
    run_id = f"s2-cross-{os.getpid()}"
    failures = 0
    with ledger.run(run_id, budget="10.00") as run:
        r = run.charge("10.50")
        assert r.over_hard and r.crossed_hard, r
        expected = 10_500_000_000
        for peer in peers:
            assert not run.admit("0.01")
            out = subprocess.run([peer, run_id, str(expected)], capture_output=True, text=True)
            print(out.stdout.strip() or out.stderr.strip())
            if out.returncode != 0:
                print(f"FAIL: {peer} exited {out.returncode}: {out.stderr.strip()}")
                failures += 1
                continue
            expected += 250_000_000
            st = run.status()
            if st.spent_nanos != expected:
                print(f"FAIL: python sees {st.spent_nanos}, expected {expected} after {peer}")
                failures += 1
        try:
            run.check("0.01")
            print("FAIL: python admitted a call past the hard limit")
            failures += 1
        except ab.BudgetExceeded as e:
            print(f"python: spent={run.status().spent_nanos} admit($0.01) denied: {e.reason}")
            if e.reason != "run_hard_limit":
                failures += 1
    ledger.close()
    if len(peers) < 1:
        print("FAIL: no peer program given")
        failures += 1
    print("S2 across languages:", "FAIL" if failures else f"OK ({len(peers)} peers)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
