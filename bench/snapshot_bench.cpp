// Cost of a ledger snapshot with 65,536 active runs: the copy the daemon's
// tick makes, the encoding and the durable write the writer thread does,
// and reading it back at start-up.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "daemon.h"
#include "run_ops.h"
#include "snapshot.h"

namespace {

constexpr uint32_t kRuns = 65536;

struct SnapshotLedger {
  std::string name = "abbench-snap-" + std::to_string(getpid());
  std::string dir = (std::filesystem::temp_directory_path() / ("abbench-snap-" + std::to_string(getpid()))).string();
  std::unique_ptr<ab::Daemon> daemon;
  SnapshotLedger() {
    ab::DaemonConfig cfg = ab::builtin_default_config();
    cfg.ledger = name;
    cfg.group = "";
    cfg.state_dir = dir;
    cfg.control.socket = dir + "/control.sock";
    cfg.run_capacity = 2 * kRuns;  // a table at half load, as in production
    std::filesystem::create_directories(dir);
    daemon = std::make_unique<ab::Daemon>(cfg);
    std::string msg;
    if (!daemon->start(&msg)) std::abort();
    ab::Ledger& l = daemon->ledger();
    for (uint32_t i = 0; i < kRuns; ++i) {
      ab::RunRef r;
      ab::BeginOptions o;
      std::string id = "bench-run-" + std::to_string(i) + "-5f0c6a1e";  // UUID-like length
      if (l.begin(id, o, &r) != ab::Status::kOk) std::abort();
      ab::ChargeResult c;
      ab::charge(l, r, 1000 + i, nullptr, &c);
    }
  }
  ~SnapshotLedger() {
    daemon.reset();
    ab::remove_ledger(name);
    std::remove(("/dev/shm/" + ab::data_segment_name(name) + ".lock").c_str());
    std::filesystem::remove_all(dir);
  }
};

SnapshotLedger& ledger() {
  static SnapshotLedger l;
  return l;
}

void BM_Snapshot_Capture65536(benchmark::State& state) {
  ab::Ledger& l = ledger().daemon->ledger();
  for (auto _ : state) benchmark::DoNotOptimize(ab::capture_snapshot(l));
}
BENCHMARK(BM_Snapshot_Capture65536)->Unit(benchmark::kMillisecond);

void BM_Snapshot_Encode65536(benchmark::State& state) {
  ab::Snapshot s = ab::capture_snapshot(ledger().daemon->ledger());
  size_t bytes = 0;
  for (auto _ : state) bytes = ab::encode_snapshot(s).size();
  state.counters["bytes"] = double(bytes);
}
BENCHMARK(BM_Snapshot_Encode65536)->Unit(benchmark::kMillisecond);

// Encoding, write, fsync, rename and folder fsync: the writer thread's work.
void BM_Snapshot_WriteDurably65536(benchmark::State& state) {
  ab::Snapshot s = ab::capture_snapshot(ledger().daemon->ledger());
  std::string path = ledger().dir + "/bench.snapshot", err;
  for (auto _ : state)
    if (!ab::write_file_atomically(path, ab::encode_snapshot(s), &err)) state.SkipWithError(err.c_str());
}
BENCHMARK(BM_Snapshot_WriteDurably65536)->Unit(benchmark::kMillisecond);

// The whole periodic path as the daemon runs it: copy, then the writer.
void BM_Snapshot_DaemonSnapshotNow65536(benchmark::State& state) {
  std::string err;
  ab::Ledger& l = ledger().daemon->ledger();
  ab::RunRef r;
  ab::BeginOptions o;
  l.begin("bench-run-0-5f0c6a1e", o, &r);
  for (auto _ : state) {
    ab::ChargeResult c;
    ab::charge(l, r, 1, nullptr, &c);  // a change, so the write is not skipped
    if (!ledger().daemon->snapshot_now(&err)) state.SkipWithError(err.c_str());
  }
  ab::SnapshotStats st = ledger().daemon->snapshot_stats();
  state.counters["capture_ms"] = double(st.last_capture_ns) / 1e6;
  state.counters["write_ms"] = double(st.last_write_ns) / 1e6;
}
BENCHMARK(BM_Snapshot_DaemonSnapshotNow65536)->Unit(benchmark::kMillisecond);

void BM_Snapshot_ReadAndDecode65536(benchmark::State& state) {
  std::string path = ledger().dir + "/read.snapshot", err;
  ab::write_file_atomically(path, ab::encode_snapshot(ab::capture_snapshot(ledger().daemon->ledger())), &err);
  for (auto _ : state) {
    ab::Snapshot s;
    if (ab::read_snapshot_file(path, &s, &err) != ab::SnapshotRead::kOk) state.SkipWithError(err.c_str());
  }
}
BENCHMARK(BM_Snapshot_ReadAndDecode65536)->Unit(benchmark::kMillisecond);

}  // namespace
