// Shared pieces of the comparison benchmarks: an in-process agentbudgetd on
// a private ledger (as tests/support's TestLedger, replicated so benchmarks
// build without the test tree), a 64-byte-aligned counter in a shared
// mapping, and a contender (a thread or a forked process) that hammers an
// operation while the benchmark thread measures its own.
#pragma once
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "agentbudget.h"
#include "config.h"
#include "daemon.h"
#include "ledger_owner.h"
#include "segment.h"

namespace abbench {

inline std::string unique_name(const char* what) {
  static std::atomic<int> n{0};
  return std::string("abbench-") + what + "-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

// A daemon owning a fresh private ledger (its segments, lock file and state
// folder are removed at destruction). Its loop does not run: the benchmark
// calls tick() when it wants a pass. With history = false the SQLite event
// history cannot be opened (a folder stands where the file would be), so the
// daemon runs on without it, as it does in production when the file is
// unwritable: begin-and-end churn of millions of runs then does not spend
// the benchmark's untimed part writing history rows.
struct BenchDaemon {
  std::string name;
  std::string dir;
  std::unique_ptr<ab::Daemon> daemon;
  ab_ledger* ledger = nullptr;

  explicit BenchDaemon(uint32_t run_capacity = ab::kDefaultRunCapacity,
                       uint32_t hold_capacity = ab::kDefaultRunCapacity,
                       const std::function<void(ab::DaemonConfig&)>& adjust = {}, bool history = true)
      : name(unique_name("ledger")) {
    spdlog::set_level(spdlog::level::err);
    std::string tmpl = (std::filesystem::temp_directory_path() / "abbench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    ab::DaemonConfig cfg = ab::builtin_default_config();
    cfg.ledger = name;
    cfg.group = "";
    cfg.group_required = false;
    cfg.state_dir = dir;
    cfg.control.socket = dir + "/control.sock";
    cfg.run_capacity = run_capacity;
    cfg.hold_capacity = hold_capacity;
    // Snapshots are measured on their own (BM_Scale_Snapshot*): the pass's
    // once-a-second capture, and its writer thread, stay out of the others
    // (the first is due one interval after start).
    cfg.snapshot_interval_ms = 24 * 3600 * 1000;
    if (adjust) adjust(cfg);
    if (!history) {
      std::filesystem::create_directories(ab::history_path(cfg));
      spdlog::set_level(spdlog::level::off);  // the failed open is expected
    }
    daemon = std::make_unique<ab::Daemon>(cfg);
    std::string msg;
    if (!daemon->start(&msg)) {
      std::fprintf(stderr, "bench: daemon start failed: %s\n", msg.c_str());
      std::abort();
    }
    spdlog::set_level(spdlog::level::err);
    if (ab_ledger_open(name.c_str(), &ledger) != AB_OK) std::abort();
  }
  ~BenchDaemon() {
    ab_ledger_close(ledger);
    daemon.reset();
    ab::remove_ledger(name);
    std::remove(("/dev/shm/" + ab::data_segment_name(name) + ".lock").c_str());
    std::filesystem::remove_all(dir);
  }
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;

  // Begins (or attaches to) RUN_ID with a $1,000,000 cap, so the charge path
  // checks real thresholds (the default policy adds 50 % and 80 %).
  ab_run* begin(const char* run_id, const char* labels = nullptr) const {
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.hard_nanos = 1'000'000'000'000'000;
    o.labels = labels;
    ab_run* r = nullptr;
    int rc = ab_run_begin(ledger, run_id, &o, &r);
    if (rc != AB_OK) {
      std::fprintf(stderr, "bench: ab_run_begin(%s): %s\n", run_id, ab_strerror(rc));
      std::abort();
    }
    return r;
  }
};

// Anonymous MAP_SHARED memory, inherited by forked children. Never freed
// (one small mapping per benchmark process).
template <class T>
T* shared_object() {
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  static_assert(sizeof(T) <= 4096);
  return new (p) T();
}

// Control words shared by the benchmark and its contender, each on its own line.
struct alignas(64) Flag {
  std::atomic<int> v{0};
};
struct ContenderSync {
  Flag ready;
  Flag stop;
};

// Upper bound of any contender loop, whatever happens to the benchmark.
inline constexpr std::chrono::seconds kContenderDeadline{120};

// Runs `op` in a loop, in another thread or a forked child process, until
// stop() (or the deadline). `setup` runs first in the contender (a child
// opens its own handles there) and returns the operation to repeat.
class Contender {
 public:
  enum Kind { kThread, kProcess };
  using Op = std::function<void()>;
  Contender(Kind kind, std::function<Op()> setup) : kind_(kind), sync_(sync_block()) {
    sync_->ready.v.store(0);
    sync_->stop.v.store(0);
    auto body = [this, setup] {
      Op op = setup();
      sync_->ready.v.store(1, std::memory_order_release);
      auto end = std::chrono::steady_clock::now() + kContenderDeadline;
      for (uint64_t i = 0; !sync_->stop.v.load(std::memory_order_relaxed); ++i) {
        op();
        if ((i & 4095) == 0 && std::chrono::steady_clock::now() > end) break;
      }
    };
    if (kind_ == kThread) {
      thread_ = std::thread(body);
    } else {
      std::fflush(nullptr);
      pid_ = fork();
      if (pid_ < 0) std::abort();
      if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
        body();
        _exit(0);
      }
    }
    auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!sync_->ready.v.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < limit)
      std::this_thread::yield();
  }
  ~Contender() {
    sync_->stop.v.store(1, std::memory_order_relaxed);
    if (kind_ == kThread) {
      thread_.join();
    } else {
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  Contender(const Contender&) = delete;
  Contender& operator=(const Contender&) = delete;

 private:
  static ContenderSync* sync_block() {
    static ContenderSync* s = shared_object<ContenderSync>();
    return s;
  }
  Kind kind_;
  ContenderSync* sync_;
  std::thread thread_;
  pid_t pid_ = -1;
};

}  // namespace abbench
