#!/usr/bin/env python3
"""Micro benchmark: one ``Run.charge(nanos=1)`` through the Python binding (argument
checks, the handle's lock, a ctypes call). Prints ns/op, the median of 7 repetitions of
200,000 charges. Needs a running daemon ($AGENTBUDGET_LEDGER)."""
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import agentbudget as ab  # noqa: E402

N = 200_000
ledger = ab.Ledger()
run = ledger.run(f"bench-py-{os.getpid()}")
reps = []
for _ in range(7):
    t = time.perf_counter_ns()
    for _ in range(N):
        run.charge(nanos=1)
    reps.append((time.perf_counter_ns() - t) / N)
assert run.status().spent_nanos == 7 * N
t = time.perf_counter_ns()
for _ in range(N):
    run.charge("0.000000001")
usd_str = (time.perf_counter_ns() - t) / N
run.end()
ledger.close()
reps.sort()
print(f"python Run.charge(nanos=1)  median {statistics.median(reps):.0f} ns/op  (min {reps[0]:.0f}, max {reps[-1]:.0f}; "
      f"7 x {N} charges); Run.charge('0.000000001') {usd_str:.0f} ns/op")
