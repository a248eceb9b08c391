// Many processes on one ledger: exact totals, the same-id begin race,
// SIGKILL at chosen and random points, and events marked exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "ledger.h"
#include "run_id.h"
#include "run_ops.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

int processes() { return 2 * int(std::max(1u, std::thread::hardware_concurrency())); }

void spin_until(std::atomic<int>* gate, int value) {
  while (gate->load() < value) {
  }
}

ab::RunStatus status_of(TestLedger& t, const char* id) {
  ab::RunRef ref;
  EXPECT_EQ(t.daemon().ledger().find(id, &ref), ab::Status::kOk);
  ab::RunStatus st{};
  if (ref.slot) ab::status(t.daemon().ledger(), ref, &st);
  return st;
}

}  // namespace

TEST(MultiProcess, ConcurrentChargesAreExact) {
  TestLedger t;
  const int n = processes();
  const int per = 200000;
  auto* gate = shared_array<std::atomic<int>>(1);
  std::string name = t.name();
  auto pids = fork_children(n, [&](int i) {
    ab_ledger* l = nullptr;
    ab_run* r = nullptr;
    if (ab_ledger_open(name.c_str(), &l) != AB_OK || ab_run_begin(l, "exact", nullptr, &r) != AB_OK) return 1;
    gate->fetch_add(1);
    spin_until(gate, n);
    // Distinct amounts per process so a lost update cannot cancel out.
    for (int k = 0; k < per; ++k)
      if (ab_charge(r, 1 + i, nullptr) != AB_OK) return 2;
    return 0;
  });
  ASSERT_EQ(wait_all(pids), n);
  ab::RunStatus st = status_of(t, "exact");
  int64_t want = 0;
  for (int i = 0; i < n; ++i) want += int64_t(per) * (1 + i);
  EXPECT_EQ(st.spent, want);
  EXPECT_EQ(st.calls, uint64_t(n) * per);
}

TEST(MultiProcess, SameIdBeginRaceYieldsOneRun) {
  TestLedger t;
  const int n = processes() * 2;
  const int ids = 200;
  auto* gate = shared_array<std::atomic<int>>(1);
  std::string name = t.name();
  auto pids = fork_children(n, [&](int) {
    ab_ledger* l = nullptr;
    if (ab_ledger_open(name.c_str(), &l) != AB_OK) return 1;
    gate->fetch_add(1);
    spin_until(gate, n);
    for (int k = 0; k < ids; ++k) {
      ab_run* r = nullptr;
      if (ab_run_begin(l, ("race-" + std::to_string(k)).c_str(), nullptr, &r) != AB_OK) return 2;
      if (ab_charge(r, 1, nullptr) != AB_OK) return 3;
      ab_run_detach(r);
    }
    return 0;
  });
  ASSERT_EQ(wait_all(pids), n);
  // Every id lives in exactly one slot, which every process charged.
  ab::Ledger& l = t.daemon().ledger();
  std::multiset<std::string> seen;
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    const ab::RunSlot& s = l.slots()[i];
    if (ab::word_state(s.word.load()) == ab::SlotState::kActive) seen.insert(std::string(s.id));
  }
  EXPECT_EQ(seen.size(), size_t(ids));
  for (int k = 0; k < ids; ++k) {
    std::string id = "race-" + std::to_string(k);
    EXPECT_EQ(seen.count(id), 1u) << id;
    EXPECT_EQ(status_of(t, id.c_str()).spent, n) << id;
  }
}

// A process SIGKILLed exactly after claiming a slot (state kClaiming, id not
// yet written) must not block or corrupt the table for anyone else.
TEST(MultiProcess, KilledMidBeginNeverBlocksOthers) {
  TestLedger t;
  ab::Ledger& core = t.daemon().ledger();
  const char* id = "killed-mid-begin";
  uint32_t home = uint32_t(ab::run_id_hash(id)) & (core.capacity() - 1);
  pid_t p = fork();
  if (p == 0) {
    ab::RunSlot& s = core.slots()[home];
    uint64_t w = s.word.load();
    s.word.compare_exchange_strong(w, ab::pack_word(ab::SlotState::kClaiming, ab::word_generation(w), getpid()));
    raise(SIGKILL);  // dies holding the claim
    _exit(0);
  }
  int status = 0;
  waitpid(p, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(ab::word_state(core.slots()[home].word.load()), ab::SlotState::kClaiming);

  const int n = processes();
  std::string name = t.name();
  auto pids = fork_children(n, [&](int) {
    ab_ledger* l = nullptr;
    ab_run* r = nullptr;
    if (ab_ledger_open(name.c_str(), &l) != AB_OK) return 1;
    if (ab_run_begin(l, id, nullptr, &r) != AB_OK) return 2;
    return ab_charge(r, 10, nullptr) == AB_OK ? 0 : 3;
  });
  EXPECT_EQ(wait_all(pids), n);
  // The dead claim was given up and its slot reused, with a new generation.
  uint64_t w = core.slots()[home].word.load();
  EXPECT_EQ(ab::word_state(w), ab::SlotState::kActive);
  EXPECT_STREQ(core.slots()[home].id, id);
  EXPECT_EQ(ab::word_generation(w), 1u);
  EXPECT_EQ(status_of(t, id).spent, 10 * n);
}

// Children begin runs and charge in a loop while being SIGKILLed at random
// instants. Every charge that returned AB_OK is in the ledger; a killed
// child adds at most the one charge it was in the middle of.
TEST(MultiProcess, RandomSigkillLosesNoAcceptedCharge) {
  TestLedger t;
  const int n = processes();
  const int ids = 8;
  const int rounds = 5;
  auto* accepted = shared_array<std::atomic<int64_t>>(size_t(n * rounds * ids));
  std::string name = t.name();
  std::mt19937 rng(12345);
  int killed = 0;
  for (int round = 0; round < rounds; ++round) {
    auto pids = fork_children(n, [&](int i) {
      ab_ledger* l = nullptr;
      if (ab_ledger_open(name.c_str(), &l) != AB_OK) return 1;
      ab_run* runs[ids] = {};
      for (int k = 0;; ++k) {
        int which = (k + i) % ids;
        if (!runs[which] && ab_run_begin(l, ("kill-" + std::to_string(which)).c_str(), nullptr, &runs[which]) != AB_OK)
          return 2;
        if (ab_charge(runs[which], 1, nullptr) != AB_OK) return 3;
        accepted[(round * n + i) * ids + which].fetch_add(1);
        if (k > 5'000'000) return 0;
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(200, 20000)(rng)));
    for (pid_t p : pids) kill(p, SIGKILL);
    for (pid_t p : pids) {
      int status = 0;
      waitpid(p, &status, 0);
      if (WIFSIGNALED(status))
        ++killed;
      else
        ASSERT_EQ(WEXITSTATUS(status), 0);
    }
  }
  EXPECT_GT(killed, 0);
  ab_ledger* l = t.open();
  for (int which = 0; which < ids; ++which) {
    int64_t sum = 0;
    for (int c = 0; c < n * rounds; ++c) sum += accepted[c * ids + which].load();
    std::string id = "kill-" + std::to_string(which);
    ab::RunStatus st = status_of(t, id.c_str());
    EXPECT_GE(st.spent, sum) << id;           // nothing accepted is lost
    EXPECT_LE(st.spent, sum + killed) << id;  // at most one in-flight per kill
    // The table still works for this id after all the killing.
    ab_run* r = nullptr;
    ASSERT_EQ(ab_run_begin(l, id.c_str(), nullptr, &r), AB_OK);
    EXPECT_EQ(ab_run_created(r), 0);
    ab_run_detach(r);
  }
  ab_ledger_close(l);
}

// S9 across processes: with many processes charging concurrently across a
// soft threshold and the hard limit, exactly one charge sees each crossing,
// and the daemon delivers exactly one notification per threshold.
TEST(MultiProcess, EachCrossingIsMarkedExactlyOnce) {
  TestLedger t;
  const int n = processes();
  auto* gate = shared_array<std::atomic<int>>(1);
  auto* crossed_soft = shared_array<std::atomic<int>>(1);
  auto* crossed_hard = shared_array<std::atomic<int>>(1);
  std::string name = t.name();
  for (int trial = 0; trial < 20; ++trial) {
    std::string id = "crossing-" + std::to_string(trial);
    gate->store(0);
    crossed_soft->store(0);
    crossed_hard->store(0);
    auto pids = fork_children(n, [&](int) {
      ab_ledger* l = nullptr;
      ab_run* r = nullptr;
      ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
      o.hard_nanos = usd("20.00");  // default policy: soft at 50% and 80%
      if (ab_ledger_open(name.c_str(), &l) != AB_OK || ab_run_begin(l, id.c_str(), &o, &r) != AB_OK) return 1;
      gate->fetch_add(1);
      spin_until(gate, n);
      for (int k = 0; k < 100 / n + 1; ++k) {
        uint32_t flags = 0;
        if (ab_charge(r, usd("0.20"), &flags) != AB_OK) return 2;
        if (flags & AB_CHARGE_CROSSED_SOFT) crossed_soft->fetch_add(1);
        if (flags & AB_CHARGE_CROSSED_HARD) crossed_hard->fetch_add(1);
      }
      return 0;
    });
    ASSERT_EQ(wait_all(pids), n);
    EXPECT_EQ(crossed_soft->load(), 2) << id;  // 50% and 80%
    EXPECT_EQ(crossed_hard->load(), 1) << id;
  }
  struct Count : ab::EventSink {
    int soft = 0, hard = 0;
    void deliver(const ab::Event& e) override {
      soft += e.kind == ab::EventKind::kSoftThreshold;
      hard += e.kind == ab::EventKind::kHardLimit;
    }
  } count;
  t.daemon().add_sink(&count);
  t.daemon().tick(true);
  t.daemon().tick(true);  // a second scan delivers nothing again
  EXPECT_EQ(count.soft, 2 * 20);
  EXPECT_EQ(count.hard, 20);
}
