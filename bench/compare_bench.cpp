// agentbudget side by side with the physical limit and with what users would
// use instead, in one run (scripts/bench.sh runs it and prints the table):
//
//   floor/      one fetch_add, and a CAS loop, on a 64-byte-aligned
//               std::atomic<int64_t> in a shared mapping
//   ab/         the C ABI on an open run: charge, admit, reserve+commit,
//               charge from usage, begin (existing, new id), status read;
//               and with a second thread or process on the same / another run
//   rpc/        a request and reply over a Unix domain socket to a minimal
//               server process (the cost of any daemon-RPC design)
//   mutex/      a process-shared pthread mutex around the counter
//   redis/      INCRBY and a Lua check-and-charge script via hiredis, to a
//               local redis-server on loopback (AB_BENCH_REDIS_PORT)
//   scale/      charge and begin with 1,000 / 65,536 / 1,048,576 runs in the
//               table; the daemon's periodic pass and snapshot capture
//
// Every contender and server is bounded: it stops when the benchmark says
// so, at end of file, after a deadline, or when the benchmark process dies.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#ifdef AB_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include "bench_support.h"
#include "layout.h"
#include "snapshot.h"

namespace {

using abbench::BenchDaemon;
using abbench::Contender;

// ---- the floor -------------------------------------------------------

// A shared-memory object like the ledger's, holding one counter on its own
// cache line.
struct FloorCounter {
  std::string name = abbench::unique_name("floor");
  ab::Segment seg;
  std::atomic<int64_t>* counter = nullptr;
  FloorCounter() {
    std::string msg;
    if (ab::Segment::create(name, 4096, 0600, gid_t(-1), &seg, &msg) != ab::SegmentError::kNone) std::abort();
    counter = new (static_cast<char*>(seg.data()) + 64) std::atomic<int64_t>(0);
    static_assert(std::atomic<int64_t>::is_always_lock_free);
  }
  ~FloorCounter() { ab::Segment::remove(name); }
};

FloorCounter& floor_counter() {
  static FloorCounter f;
  return f;
}

inline void cas_add(std::atomic<int64_t>* c, int64_t d) {
  int64_t v = c->load(std::memory_order_relaxed);
  for (int i = 0; i < 1'000'000 && !c->compare_exchange_weak(v, v + d, std::memory_order_seq_cst); ++i) {
  }
}

void BM_Floor_FetchAdd(benchmark::State& state) {
  auto* c = floor_counter().counter;
  for (auto _ : state) benchmark::DoNotOptimize(c->fetch_add(1, std::memory_order_seq_cst));
}
BENCHMARK(BM_Floor_FetchAdd);

void BM_Floor_CasLoop(benchmark::State& state) {
  auto* c = floor_counter().counter;
  for (auto _ : state) cas_add(c, 1);
  benchmark::DoNotOptimize(c->load());
}
BENCHMARK(BM_Floor_CasLoop);

// The same counter, with another thread (arg 0) or process (arg 1) adding to
// it all the time: the floor of any shared counter under contention.
void BM_Floor_FetchAddContended(benchmark::State& state) {
  auto* c = floor_counter().counter;
  Contender other(state.range(0) ? Contender::kProcess : Contender::kThread,
                  [c] { return Contender::Op([c] { c->fetch_add(1, std::memory_order_seq_cst); }); });
  for (auto _ : state) benchmark::DoNotOptimize(c->fetch_add(1, std::memory_order_seq_cst));
}
BENCHMARK(BM_Floor_FetchAddContended)->ArgName("proc")->Arg(0)->Arg(1)->UseRealTime();

// ---- agentbudget, one run handle ---------------------------------------

BenchDaemon& main_ledger() {
  static BenchDaemon d(ab::kDefaultRunCapacity, ab::kDefaultRunCapacity,
                       [](ab::DaemonConfig& c) { c.closed_run_grace_s = 0; });
  return d;
}

ab_run* main_run() {
  static ab_run* r = main_ledger().begin("bench-run-7c9e6679-7425-40de-944b-e07fc1f90ae7");
  return r;
}

void BM_AB_Charge(benchmark::State& state) {
  ab_run* r = main_run();
  for (auto _ : state) benchmark::DoNotOptimize(ab_charge(r, 1, nullptr));
}
BENCHMARK(BM_AB_Charge);

void BM_AB_Admit(benchmark::State& state) {
  ab_run* r = main_run();
  int32_t reason;
  for (auto _ : state) benchmark::DoNotOptimize(ab_admit(r, 1000, &reason));
}
BENCHMARK(BM_AB_Admit);

void BM_AB_ReserveCommit(benchmark::State& state) {
  ab_run* r = main_run();
  ab_hold h;
  for (auto _ : state) {
    if (ab_reserve(r, 1000, 0, &h, nullptr) != AB_OK) {
      state.SkipWithError("ab_reserve failed");
      break;
    }
    benchmark::DoNotOptimize(ab_commit(r, h, 900, nullptr));
  }
}
BENCHMARK(BM_AB_ReserveCommit);

// Price lookup by model name (provider prefix resolved) and the charge.
void BM_AB_ChargeUsage(benchmark::State& state) {
  ab_run* r = main_run();
  ab_usage u = AB_USAGE_INIT;
  u.input_tokens = 6279;
  u.cached_tokens = 2053;
  u.output_tokens = 420;
  int64_t cost = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ab_charge_usage(r, "google/gemini-3-pro-preview", &u, &cost, nullptr));
  if (cost <= 0) state.SkipWithError("ab_charge_usage priced nothing");
}
BENCHMARK(BM_AB_ChargeUsage);

void BM_AB_StatusRead(benchmark::State& state) {
  ab_run* r = main_run();
  ab_run_status st;
  st.struct_size = sizeof st;
  for (auto _ : state) benchmark::DoNotOptimize(ab_run_status_get(r, &st));
}
BENCHMARK(BM_AB_StatusRead);

// ab_run_begin of an id that exists (what every process of a run but the
// first does), and the handle freed again.
void BM_AB_BeginExisting(benchmark::State& state) {
  main_run();
  ab_ledger* l = main_ledger().ledger;
  for (auto _ : state) {
    ab_run* r = nullptr;
    benchmark::DoNotOptimize(ab_run_begin(l, "bench-run-7c9e6679-7425-40de-944b-e07fc1f90ae7", nullptr, &r));
    ab_run_detach(r);
  }
}
BENCHMARK(BM_AB_BeginExisting);

// UUID-like run ids (36 bytes), distinct for the whole benchmark process.
std::string fresh_id() {
  static uint64_t n = 0;
  static std::mt19937_64 rng(12345);
  char buf[64];
  uint64_t a = rng();
  std::snprintf(buf, sizeof buf, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-a%03" PRIx64 "-%012" PRIx64,
                a & 0xffffffffu, (a >> 32) & 0xffff, (a >> 48) & 0xfff, n & 0xfff, n & uint64_t(0xffffffffffff));
  ++n;
  return buf;
}

// Begins new ids in batches; between batches (not timed) the runs are ended
// and the daemon's pass recycles their slots, so the table's load stays as
// it was set up (`live` runs) plus at most one batch.
void begin_new_ids(benchmark::State& state, BenchDaemon& d, size_t batch) {
  std::vector<std::string> ids(batch);
  std::vector<ab_run*> runs(batch, nullptr);
  auto refill = [&] {
    for (auto& id : ids) id = fresh_id();
  };
  refill();
  size_t j = 0;
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.hard_nanos = 1'000'000'000'000'000;
  for (auto _ : state) {
    if (ab_run_begin(d.ledger, ids[j].c_str(), &o, &runs[j]) != AB_OK) {
      state.SkipWithError("ab_run_begin of a new id failed");
      break;
    }
    if (++j == batch) {
      state.PauseTiming();
      for (ab_run*& r : runs) {
        ab_run_end(r);
        r = nullptr;
      }
      d.daemon->tick(true);
      refill();
      j = 0;
      state.ResumeTiming();
    }
  }
  for (size_t i = 0; i < j; ++i) ab_run_end(runs[i]);
  d.daemon->tick(true);
}

// On a ledger like the main one, without the history (see BenchDaemon).
void BM_AB_BeginNew(benchmark::State& state) {
  static BenchDaemon churn(
      ab::kDefaultRunCapacity, ab::kDefaultRunCapacity, [](ab::DaemonConfig& c) { c.closed_run_grace_s = 0; }, false);
  begin_new_ids(state, churn, 1024);
}
BENCHMARK(BM_AB_BeginNew)->Iterations(65536);

// ---- two threads / two processes ---------------------------------------

// Arg 0: 0 = a second thread, 1 = a second process; arg 1: 1 = the same
// run, 0 = another run. Reported: the time per charge in this thread while
// the other one charges continuously.
void BM_AB_ChargeContended(benchmark::State& state) {
  const bool process = state.range(0) != 0, same = state.range(1) != 0;
  BenchDaemon& d = main_ledger();
  ab_run* mine = main_run();
  std::string ledger_name = d.name;
  std::string other_id = same ? "bench-run-7c9e6679-7425-40de-944b-e07fc1f90ae7" : "bench-other-run";
  ab_ledger* parent_ledger = d.ledger;
  Contender other(process ? Contender::kProcess : Contender::kThread, [=] {
    ab_ledger* l = parent_ledger;
    if (process && ab_ledger_open(ledger_name.c_str(), &l) != AB_OK) _exit(3);  // its own mapping
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.hard_nanos = 1'000'000'000'000'000;
    ab_run* r = nullptr;
    if (ab_run_begin(l, other_id.c_str(), &o, &r) != AB_OK) _exit(4);
    return Contender::Op([r] { ab_charge(r, 1, nullptr); });
  });
  for (auto _ : state) benchmark::DoNotOptimize(ab_charge(mine, 1, nullptr));
}
BENCHMARK(BM_AB_ChargeContended)
    ->ArgNames({"proc", "same"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({1, 0})
    ->UseRealTime();

// ---- a daemon RPC: request and reply over a Unix domain socket ----------

bool write_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t k = write(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= size_t(k);
  }
  return true;
}

bool read_all(int fd, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n) {
    ssize_t k = read(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= size_t(k);
  }
  return true;
}

// The minimal server: reads {run, amount}, adds it, replies with the new
// total. It exits at end of file (the benchmark closed its end), or when the
// benchmark process dies.
[[noreturn]] void rpc_server(int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int64_t total = 0;
  int64_t req[2];
  while (read_all(fd, req, sizeof req)) {
    total += req[1];
    if (!write_all(fd, &total, sizeof total)) break;
  }
  _exit(0);
}

void BM_Rpc_UnixSocket(benchmark::State& state) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    close(sv[0]);
    rpc_server(sv[1]);
  }
  close(sv[1]);
  int64_t req[2] = {1, 1}, reply = 0;
  for (auto _ : state) {
    if (!write_all(sv[0], req, sizeof req) || !read_all(sv[0], &reply, sizeof reply)) {
      state.SkipWithError("server went away");
      break;
    }
  }
  benchmark::DoNotOptimize(reply);
  close(sv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
}
BENCHMARK(BM_Rpc_UnixSocket)->UseRealTime();

// ---- a process-shared mutex around the counter ---------------------------

struct alignas(64) LockedCounter {
  pthread_mutex_t mu;
  int64_t value = 0;
};

LockedCounter* locked_counter() {
  static LockedCounter* c = [] {
    auto* lc = abbench::shared_object<LockedCounter>();
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&lc->mu, &a);
    pthread_mutexattr_destroy(&a);
    return lc;
  }();
  return c;
}

inline void locked_add(LockedCounter* c, int64_t d) {
  pthread_mutex_lock(&c->mu);
  c->value += d;
  pthread_mutex_unlock(&c->mu);
}

void BM_Mutex_ProcessShared(benchmark::State& state) {
  LockedCounter* c = locked_counter();
  for (auto _ : state) locked_add(c, 1);
  benchmark::DoNotOptimize(c->value);
}
BENCHMARK(BM_Mutex_ProcessShared);

// With a second process taking the same lock all the time.
void BM_Mutex_ProcessSharedContended(benchmark::State& state) {
  LockedCounter* c = locked_counter();
  Contender other(Contender::kProcess, [c] { return Contender::Op([c] { locked_add(c, 1); }); });
  for (auto _ : state) locked_add(c, 1);
}
BENCHMARK(BM_Mutex_ProcessSharedContended)->UseRealTime();

// ---- Redis over loopback ---------------------------------------------------

#ifdef AB_HAVE_HIREDIS
redisContext* redis_connect(benchmark::State& state) {
  const char* port = std::getenv("AB_BENCH_REDIS_PORT");
  if (!port || !*port) {
    state.SkipWithError("AB_BENCH_REDIS_PORT not set (scripts/bench.sh starts a redis-server)");
    return nullptr;
  }
  timeval tv{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", std::atoi(port), tv);
  if (!c || c->err) {
    state.SkipWithError("cannot connect to redis-server on 127.0.0.1");
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  return c;
}

void BM_Redis_IncrBy(benchmark::State& state) {
  redisContext* c = redis_connect(state);
  if (!c) return;
  for (auto _ : state) {
    auto* rep = static_cast<redisReply*>(redisCommand(c, "INCRBY abbench:spent %d", 1));
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
      state.SkipWithError("INCRBY failed");
      if (rep) freeReplyObject(rep);
      break;
    }
    freeReplyObject(rep);
  }
  redisFree(c);
}
BENCHMARK(BM_Redis_IncrBy)->UseRealTime();

// The check-and-charge a Redis design needs to enforce a limit atomically.
constexpr const char* kCheckAndCharge =
    "local spent = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "local amount = tonumber(ARGV[1]) "
    "if spent + amount > tonumber(ARGV[2]) then return -1 end "
    "return redis.call('INCRBY', KEYS[1], amount)";

void BM_Redis_LuaCheckAndCharge(benchmark::State& state) {
  redisContext* c = redis_connect(state);
  if (!c) return;
  auto* load = static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kCheckAndCharge));
  if (!load || load->type != REDIS_REPLY_STRING) {
    state.SkipWithError("SCRIPT LOAD failed");
    if (load) freeReplyObject(load);
    redisFree(c);
    return;
  }
  std::string sha(load->str, load->len);
  freeReplyObject(load);
  for (auto _ : state) {
    auto* rep = static_cast<redisReply*>(
        redisCommand(c, "EVALSHA %s 1 abbench:lua-spent %d %lld", sha.c_str(), 1, 1000000000000000000LL));
    if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer < 0) {
      state.SkipWithError("EVALSHA failed");
      if (rep) freeReplyObject(rep);
      break;
    }
    freeReplyObject(rep);
  }
  redisFree(c);
}
BENCHMARK(BM_Redis_LuaCheckAndCharge)->UseRealTime();
#endif

// ---- scale: 1,000 / 65,536 / 1,048,576 runs in the table -------------------

// N active runs (each begun and charged once) in a table of twice as many
// slots rounded up to a power of two, as the daemon's default sizes it.
struct ScaleLedger {
  uint32_t runs;
  bool history;
  std::unique_ptr<BenchDaemon> d;
  std::vector<std::string> ids;  // shuffled
  std::vector<ab_run*> handles;  // shuffled independently of ids
  ScaleLedger(uint32_t n, bool with_history) : runs(n), history(with_history) {
    uint32_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    d = std::make_unique<BenchDaemon>(
        cap, 65536, [](ab::DaemonConfig& c) { c.closed_run_grace_s = 0; }, history);
    ids.reserve(n);
    handles.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      ids.push_back(fresh_id());
      ab_run* r = d->begin(ids.back().c_str());
      ab_charge(r, 1000 + i, nullptr);
      handles.push_back(r);
    }
    std::mt19937_64 rng(7);
    std::shuffle(ids.begin(), ids.end(), rng);
    std::shuffle(handles.begin(), handles.end(), rng);
  }
  ~ScaleLedger() {
    for (ab_run* r : handles) ab_run_detach(r);
  }
  uint64_t segment_bytes() const { return ab::data_segment_size(d->daemon->config().run_capacity, 65536); }
};

// The daemon's pass is measured with its history, as it runs; the begin of
// new ids (which ends and recycles them in batches) without it.
ScaleLedger& scale(uint32_t n, bool history = true) {
  static std::unique_ptr<ScaleLedger> current;
  if (!current || current->runs != n || current->history != history) {
    current.reset();  // one table at a time
    current = std::make_unique<ScaleLedger>(n, history);
  }
  return *current;
}

void memory_counters(benchmark::State& state, const ScaleLedger& s) {
  state.counters["runs"] = double(s.runs);
  state.counters["table_slots"] = double(s.d->daemon->config().run_capacity);
  state.counters["segment_MiB"] = double(s.segment_bytes()) / (1 << 20);
  state.counters["bytes_per_run"] = double(s.segment_bytes()) / s.runs;
}

// Charges round-robin over every run's handle, in random order: at 1M runs
// each charge touches a slot that is not in any cache.
void BM_Scale_Charge(benchmark::State& state) {
  ScaleLedger& s = scale(uint32_t(state.range(0)));
  size_t i = 0, n = s.handles.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ab_charge(s.handles[i], 1, nullptr));
    if (++i == n) i = 0;
  }
  memory_counters(state, s);
}

// Attaches to a random existing run, and frees the handle.
void BM_Scale_BeginExisting(benchmark::State& state) {
  ScaleLedger& s = scale(uint32_t(state.range(0)));
  size_t i = 0, n = s.ids.size();
  for (auto _ : state) {
    ab_run* r = nullptr;
    benchmark::DoNotOptimize(ab_run_begin(s.d->ledger, s.ids[i].c_str(), nullptr, &r));
    ab_run_detach(r);
    if (++i == n) i = 0;
  }
}

void BM_Scale_BeginNew(benchmark::State& state) {
  ScaleLedger& s = scale(uint32_t(state.range(0)), false);
  begin_new_ids(state, *s.d, std::max<size_t>(128, s.runs / 8));
}

// The daemon's pass as the loop runs it once a second: heartbeat, hold
// reaper, event scan, forecasts, history commit, slot recycler.
void BM_Scale_DaemonPass(benchmark::State& state) {
  ScaleLedger& s = scale(uint32_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(s.d->daemon->tick(true));
  memory_counters(state, s);
}

// The copy of the table a snapshot takes in the daemon's loop (the encoding
// and the durable write happen on the writer thread).
void BM_Scale_SnapshotCapture(benchmark::State& state) {
  ScaleLedger& s = scale(uint32_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(ab::capture_snapshot(s.d->daemon->ledger()));
}

// The whole snapshot, synchronously: capture, encode, write, fsync, rename.
void BM_Scale_SnapshotWrite(benchmark::State& state) {
  ScaleLedger& s = scale(uint32_t(state.range(0)));
  std::string err;
  for (auto _ : state) {
    ab_charge(s.handles[0], 1, nullptr);  // a change, so the write is not skipped
    if (!s.d->daemon->snapshot_now(&err)) {
      state.SkipWithError(err.c_str());
      break;
    }
  }
}

// Registered size by size, so each table is built once.
[[maybe_unused]] const bool kScaleRegistered = [] {
  for (int64_t n : {1000, 65536, 1048576}) {
    benchmark::RegisterBenchmark("BM_Scale_Charge", BM_Scale_Charge)->Arg(n);
    benchmark::RegisterBenchmark("BM_Scale_BeginExisting", BM_Scale_BeginExisting)->Arg(n);
    if (n >= 65536) {
      benchmark::RegisterBenchmark("BM_Scale_DaemonPass", BM_Scale_DaemonPass)->Arg(n)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark("BM_Scale_SnapshotCapture", BM_Scale_SnapshotCapture)
          ->Arg(n)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark("BM_Scale_SnapshotWrite", BM_Scale_SnapshotWrite)
          ->Arg(n)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    // A fixed count: a few batches of n / 8 new ids (at least 16,384 begins).
    int64_t batch = std::max<int64_t>(128, n / 8);
    benchmark::RegisterBenchmark("BM_Scale_BeginNew", BM_Scale_BeginNew)
        ->Arg(n)
        ->Iterations(std::max<int64_t>(2 * batch, 16384));
  }
  return true;
}();

}  // namespace
