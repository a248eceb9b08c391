#!/usr/bin/env python3
"""Turns one run of ab_compare_bench (Google Benchmark JSON, aggregates only)
plus the bindings' outputs into the comparison table: medians, ratios to the
atomic floor and to Redis INCRBY, and the targets. Called by scripts/bench.sh.

  make_table.py RAW.json BINDINGS.txt MACHINE.txt OUT.json OUT.md REPETITIONS
"""
import json
import re
import sys

RAW, BINDINGS, MACHINE, OUT_JSON, OUT_MD, REPS = sys.argv[1:7]

UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
SIZES = [(1000, "1,000"), (65536, "65,536"), (1048576, "1,048,576")]

# (group, label, benchmark run_name); ratios are shown for rows under 1 ms.
ROWS = [
    ("The limit", "`fetch_add` on a 64-byte-aligned `std::atomic<int64_t>` in a shared mapping", "BM_Floor_FetchAdd"),
    ("The limit", "compare-and-swap loop on it", "BM_Floor_CasLoop"),
    ("The limit", "`fetch_add`, a 2nd thread adding to the same counter", "BM_Floor_FetchAddContended/proc:0/real_time"),
    ("The limit", "`fetch_add`, a 2nd process adding to the same counter", "BM_Floor_FetchAddContended/proc:1/real_time"),
    ("agentbudget, one thread", "`ab_charge`", "BM_AB_Charge"),
    ("agentbudget, one thread", "`ab_admit` (admission check)", "BM_AB_Admit"),
    ("agentbudget, one thread", "`ab_reserve` + `ab_commit`", "BM_AB_ReserveCommit"),
    ("agentbudget, one thread", "`ab_charge_usage` (price lookup by model name + charge)", "BM_AB_ChargeUsage"),
    ("agentbudget, one thread", "`ab_run_begin` of an existing id (+ detach)", "BM_AB_BeginExisting"),
    ("agentbudget, one thread", "`ab_run_begin` of a new id", "BM_AB_BeginNew"),
    ("agentbudget, one thread", "`ab_run_status_get`", "BM_AB_StatusRead"),
    ("agentbudget, contended", "`ab_charge`, 2 threads, same run", "BM_AB_ChargeContended/proc:0/same:1/real_time"),
    ("agentbudget, contended", "`ab_charge`, 2 threads, different runs", "BM_AB_ChargeContended/proc:0/same:0/real_time"),
    ("agentbudget, contended", "`ab_charge`, 2 processes, same run", "BM_AB_ChargeContended/proc:1/same:1/real_time"),
    ("agentbudget, contended", "`ab_charge`, 2 processes, different runs", "BM_AB_ChargeContended/proc:1/same:0/real_time"),
    ("What users would use instead", "Redis `INCRBY` (hiredis, 127.0.0.1)", "BM_Redis_IncrBy/real_time"),
    ("What users would use instead", "Redis Lua check-and-charge (`EVALSHA`)", "BM_Redis_LuaCheckAndCharge/real_time"),
    ("What users would use instead", "request + reply over a Unix domain socket to a minimal server", "BM_Rpc_UnixSocket/real_time"),
    ("What users would use instead", "process-shared `pthread_mutex` around the counter", "BM_Mutex_ProcessShared"),
    ("What users would use instead", "process-shared `pthread_mutex`, a 2nd process taking it too", "BM_Mutex_ProcessSharedContended/real_time"),
]
for n, shown in SIZES:
    ROWS.append(("Scale", f"`ab_charge`, a random one of {shown} runs", f"BM_Scale_Charge/{n}"))
for n, shown in SIZES:
    ROWS.append(("Scale", f"`ab_run_begin` of an existing id, random among {shown} runs", f"BM_Scale_BeginExisting/{n}"))
for n, shown in SIZES:
    ROWS.append(("Scale", f"`ab_run_begin` of a new id, {shown} runs in the table", f"BM_Scale_BeginNew/{n}"))
for n, shown in SIZES[1:]:
    ROWS.append(("Daemon's periodic work", f"pass (heartbeat, hold reaper, event scan, forecasts, history commit, recycler), {shown} active runs", f"BM_Scale_DaemonPass/{n}"))
    ROWS.append(("Daemon's periodic work", f"snapshot capture (in the pass, once a second), {shown} active runs", f"BM_Scale_SnapshotCapture/{n}"))
    ROWS.append(("Daemon's periodic work", f"snapshot capture + encode + durable write, {shown} active runs", f"BM_Scale_SnapshotWrite/{n}/real_time"))

FLOOR = "BM_Floor_FetchAdd"
REDIS = "BM_Redis_IncrBy/real_time"


def load_medians(path):
    with open(path) as f:
        raw = json.load(f)
    med, cpu, counters, errors = {}, {}, {}, {}
    for b in raw.get("benchmarks", []):
        # Fixed-count benchmarks carry "/iterations:N" in their names.
        name = re.sub(r"/iterations:[0-9]+", "", b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        if b.get("aggregate_name", "median" if b.get("run_type") == "iteration" else "") != "median":
            continue
        med[name] = b["real_time"] * UNIT[b.get("time_unit", "ns")]
        cpu[name] = b["cpu_time"] * UNIT[b.get("time_unit", "ns")]
        counters[name] = {k: v for k, v in b.items() if k in ("runs", "table_slots", "segment_MiB", "bytes_per_run")}
    return raw, med, cpu, counters, errors


def fmt_time(ns):
    if ns is None:
        return "not measured"
    if ns < 100:
        return f"{ns:.1f} ns"
    if ns < 10_000:
        return f"{ns:,.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:,.1f} µs"
    return f"{ns / 1e6:,.1f} ms"


def fmt_ratio(x):
    if x is None:
        return ""
    if x < 10:
        return f"{x:.2f}×"
    return f"{x:,.0f}×"


raw, med, cpu, counters, errors = load_medians(RAW)
floor = med.get(FLOOR)
redis = med.get(REDIS)

rows = []
for group, label, bench in ROWS:
    ns = med.get(bench)
    r = {"group": group, "label": label, "benchmark": bench, "median_ns": ns, "median_cpu_ns": cpu.get(bench)}
    if ns is not None and ns < 1e6:
        r["x_floor"] = ns / floor if floor else None
        r["redis_incrby_over_this"] = redis / ns if redis else None
    if ns is None:
        r["note"] = errors.get(bench, "not in this run")
    rows.append(r)

# One charge through each binding: "NAME<TAB>STATUS<TAB>output line".
bindings = []
with open(BINDINGS) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        name, status, out = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
        m = re.search(r"median\s+([0-9.]+)\s*ns/op", out) or re.search(r"([0-9.]+)\s*ns/op", out)
        ns = float(m.group(1)) if (status == "measured" and m) else None
        b = {"binding": name, "status": status if ns is not None or status != "measured" else "not measured: no ns/op in its output",
             "ns_per_op": ns, "output": out}
        bindings.append(b)
        r = {"group": "Bindings (own benchmark program, median of its repetitions)",
             "label": f"one charge through the {name.capitalize()} binding", "benchmark": f"bindings/{name}", "median_ns": ns}
        if ns is not None:
            r["x_floor"] = ns / floor if floor else None
            r["redis_incrby_over_this"] = redis / ns if redis else None
        else:
            r["note"] = b["status"]
        rows.append(r)

machine = {}
with open(MACHINE) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("\t")
        machine[k] = v


def target(name, value, limit, ok, shown):
    return {"target": name, "measured": shown, "limit": limit, "met": ok if value is not None else None}


def m(b):
    return med.get(b)


charge, rc, begin, pass65k = m("BM_AB_Charge"), m("BM_AB_ReserveCommit"), m("BM_AB_BeginExisting"), m("BM_Scale_DaemonPass/65536")
targets = []
if charge and floor:
    targets.append(target("`ab_charge` ≤ 2× the atomic floor", charge, "2×", charge / floor <= 2, fmt_ratio(charge / floor)))
if rc and floor:
    targets.append(target("`ab_reserve` + `ab_commit` ≤ 4× the atomic floor", rc, "4×", rc / floor <= 4, fmt_ratio(rc / floor)))
if charge and redis:
    targets.append(target("`ab_charge` ≥ 1,000× faster than Redis `INCRBY` on loopback", charge, "1,000×",
                          redis / charge >= 1000, fmt_ratio(redis / charge)))
else:
    targets.append({"target": "`ab_charge` ≥ 1,000× faster than Redis `INCRBY` on loopback", "measured": "not measured",
                    "limit": "1,000×", "met": None})
if begin:
    targets.append(target("`ab_run_begin` of an existing run ≤ 200 ns", begin, "200 ns", begin <= 200, fmt_time(begin)))
if pass65k:
    targets.append(target("daemon's periodic pass, 65,536 active runs ≤ 5 ms", pass65k, "5 ms", pass65k <= 5e6,
                          fmt_time(pass65k)))

md = []
md.append(f"Medians of {REPS} repetitions (wall-clock time per operation), all measured in one run of "
          "`scripts/bench.sh`.")
md.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
          f"{' (' + machine['hypervisor'] + ' guest)' if machine.get('hypervisor') else ''}, "
          f"{machine.get('memory', '?')}, {machine.get('kernel', '?')}, {machine.get('os', '?')}, "
          f"{machine.get('compiler', '?')}, RelWithDebInfo; Redis {machine.get('redis', '?')}; "
          f"load average at the end {machine.get('load', '?')}.")
md.append("")
md.append("| operation | median | × atomic floor | Redis `INCRBY` ÷ this |")
md.append("|---|---|---|---|")
last_group = None
for r in rows:
    if r["group"] != last_group:
        md.append(f"| **{r['group']}** | | | |")
        last_group = r["group"]
    ns = r["median_ns"]
    shown = fmt_time(ns) if ns is not None else f"not measured ({r.get('note', '')})"
    md.append(f"| {r['label']} | {shown} | {fmt_ratio(r.get('x_floor'))} | {fmt_ratio(r.get('redis_incrby_over_this'))} |")
md.append("")
mem = [(n, shown, counters.get(f"BM_Scale_Charge/{n}", {})) for n, shown in SIZES]
if any(c for _, _, c in mem):
    md.append("| runs in the table | table slots | data segment | bytes per run |")
    md.append("|---|---|---|---|")
    for n, shown, c in mem:
        if c:
            md.append(f"| {shown} | {int(c['table_slots']):,} | {c['segment_MiB']:,.1f} MiB | {c['bytes_per_run']:,.0f} |")
    md.append("")
md.append("| target | measured | met |")
md.append("|---|---|---|")
for t in targets:
    met = "not measured" if t["met"] is None else ("**met**" if t["met"] else "**missed**")
    md.append(f"| {t['target']} | {t['measured']} | {met} |")
text = "\n".join(md) + "\n"

with open(OUT_MD, "w") as f:
    f.write(text)
with open(OUT_JSON, "w") as f:
    json.dump({"machine": machine, "repetitions": int(REPS), "rows": rows, "targets": targets,
               "bindings": bindings, "google_benchmark": raw}, f, indent=1, ensure_ascii=False)
    f.write("\n")
print()
print(text, end="")
