// Hot-path cost of charging and admitting an open run, single thread,
// against the floor of one atomic fetch_add on a shared mapping.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "agentbudget.h"
#include "daemon.h"
#include "segment.h"

namespace {

// An in-process daemon owning a private ledger for the whole benchmark run.
struct BenchLedger {
  std::string name = "abbench-" + std::to_string(getpid());
  std::unique_ptr<ab::Daemon> daemon;
  ab_ledger* ledger = nullptr;
  ab_run* run = nullptr;
  ab_run* pooled = nullptr;
  BenchLedger() {
    ab::DaemonConfig cfg = ab::builtin_default_config();
    cfg.ledger = name;
    cfg.group = "";
    ab::PoolConfig team;
    team.name = "team";
    team.period = "day";
    cfg.pools.push_back(team);
    ab::PolicyConfig p;
    p.name = "pooled";
    p.matches = {{"team", "t"}};
    p.pools = {"team"};
    cfg.policies.push_back(p);
    daemon = std::make_unique<ab::Daemon>(cfg);
    std::string msg;
    if (!daemon->start(&msg)) std::abort();
    ab_ledger_open(name.c_str(), &ledger);
    ab_run_begin(ledger, "bench-run", nullptr, &run);
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.labels = "team=t";
    ab_run_begin(ledger, "bench-pooled", &o, &pooled);
  }
  ~BenchLedger() {
    ab_run_detach(run);
    ab_run_detach(pooled);
    ab_ledger_close(ledger);
    daemon.reset();
    ab::remove_ledger(name);
    std::remove(("/dev/shm/" + ab::data_segment_name(name) + ".lock").c_str());
  }
};

BenchLedger& bench() {
  static BenchLedger b;
  return b;
}

void BM_AtomicFloor_FetchAdd(benchmark::State& state) {
  ab::Segment seg;
  std::string msg, name = "abbench-floor-" + std::to_string(getpid());
  ab::Segment::create(name, 4096, 0600, gid_t(-1), &seg, &msg);
  auto* counter = static_cast<std::atomic<int64_t>*>(seg.data());
  for (auto _ : state) benchmark::DoNotOptimize(counter->fetch_add(1, std::memory_order_relaxed));
  ab::Segment::remove(name);
}
BENCHMARK(BM_AtomicFloor_FetchAdd);

void BM_Charge(benchmark::State& state) {
  ab_run* r = bench().run;
  for (auto _ : state) benchmark::DoNotOptimize(ab_charge(r, 1, nullptr));
}
BENCHMARK(BM_Charge);

void BM_Admit(benchmark::State& state) {
  ab_run* r = bench().run;
  int32_t reason;
  for (auto _ : state) benchmark::DoNotOptimize(ab_admit(r, 1000, &reason));
}
BENCHMARK(BM_Admit);

void BM_ChargeUsage(benchmark::State& state) {
  ab_run* r = bench().run;
  ab_usage u = AB_USAGE_INIT;
  u.input_tokens = 6279;
  u.cached_tokens = 2053;
  u.output_tokens = 420;
  int64_t cost;
  for (auto _ : state) benchmark::DoNotOptimize(ab_charge_usage(r, "google/gemini-3-pro-preview", &u, &cost, nullptr));
}
BENCHMARK(BM_ChargeUsage);

void BM_ReserveCommit(benchmark::State& state) {
  ab_run* r = bench().run;
  ab_hold h;
  for (auto _ : state) {
    ab_reserve(r, 1000, 0, &h, nullptr);
    benchmark::DoNotOptimize(ab_commit(r, h, 900, nullptr));
  }
}
BENCHMARK(BM_ReserveCommit);

// A run in a calendar-day pool: each charge also updates the pool, under an
// operation record the daemon could repair from.
void BM_ChargePooled(benchmark::State& state) {
  ab_run* r = bench().pooled;
  for (auto _ : state) benchmark::DoNotOptimize(ab_charge(r, 1, nullptr));
}
BENCHMARK(BM_ChargePooled);

void BM_ReserveCommitPooled(benchmark::State& state) {
  ab_run* r = bench().pooled;
  ab_hold h;
  for (auto _ : state) {
    ab_reserve(r, 1000, 0, &h, nullptr);
    benchmark::DoNotOptimize(ab_commit(r, h, 900, nullptr));
  }
}
BENCHMARK(BM_ReserveCommitPooled);

void BM_StatusRead(benchmark::State& state) {
  ab_run* r = bench().run;
  ab_run_status st;
  st.struct_size = sizeof st;
  for (auto _ : state) benchmark::DoNotOptimize(ab_run_status_get(r, &st));
}
BENCHMARK(BM_StatusRead);

void BM_BeginExisting(benchmark::State& state) {
  ab_ledger* l = bench().ledger;
  for (auto _ : state) {
    ab_run* r = nullptr;
    benchmark::DoNotOptimize(ab_run_begin(l, "bench-run", nullptr, &r));
    ab_run_detach(r);
  }
}
BENCHMARK(BM_BeginExisting);

}  // namespace

namespace {

// The daemon's periodic pass (heartbeat, hold reaper, event scan, slot
// recycler) over a table of 65,536 slots holding 32,768 active runs.
void BM_DaemonPass(benchmark::State& state) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.ledger = "abbench-pass-" + std::to_string(getpid());
  cfg.group = "";
  ab::Daemon d(cfg);
  std::string msg;
  if (!d.start(&msg)) std::abort();
  ab_ledger* l = nullptr;
  ab_ledger_open(cfg.ledger.c_str(), &l);
  for (int i = 0; i < 32768; ++i) {
    ab_run* r = nullptr;
    ab_run_begin(l, ("pass-" + std::to_string(i)).c_str(), nullptr, &r);
    ab_charge(r, 1, nullptr);
    ab_run_detach(r);
  }
  for (auto _ : state) benchmark::DoNotOptimize(d.tick(true));
  ab_ledger_close(l);
  ab::remove_ledger(cfg.ledger);
  std::remove(("/dev/shm/" + ab::data_segment_name(cfg.ledger) + ".lock").c_str());
}
BENCHMARK(BM_DaemonPass)->Unit(benchmark::kMillisecond);

}  // namespace
