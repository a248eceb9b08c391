// Pools, periods, parent runs and slot recycling: scenario S6, exact period
// boundaries (injectable clock), roll-up into parents, repair of a charge
// killed between the run and its pool, and a randomized SIGKILL stress test
// on runs sharing a tight pool.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "clock.h"
#include "hold_table.h"
#include "ledger.h"
#include "period_starts.h"
#include "pool_period.h"
#include "run_ops.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

ab::DaemonConfig team_config(const char* pool_hard, const char* period = "none", uint64_t rolling_s = 0) {
  ab::DaemonConfig c = ab::builtin_default_config();
  add_team_pool(&c, pool_hard, "support", period, rolling_s).soft_permille = {500};
  return c;
}

ab_run* begin(ab_ledger* l, const char* id, const char* hard, const char* labels, const char* parent = nullptr) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.hard_nanos = hard ? usd(hard) : -1;
  o.labels = labels;
  o.parent = parent;
  ab_run* r = nullptr;
  int rc = ab_run_begin(l, id, &o, &r);
  EXPECT_EQ(rc, AB_OK) << id << " " << ab_status_name(rc);
  return r;
}

ab_run_status status(ab_run* r) {
  ab_run_status st;
  st.struct_size = sizeof st;
  EXPECT_EQ(ab_run_status_get(r, &st), AB_OK);
  return st;
}

ab_pool_status pool(ab_ledger* l, const char* name) {
  ab_pool_status st;
  st.struct_size = sizeof st;
  EXPECT_EQ(ab_pool_status_get(l, name, &st), AB_OK);
  return st;
}

int reserve_commit(ab_run* r, const char* amount, int32_t* reason) {
  ab_hold h;
  int rc = ab_reserve(r, usd(amount), 0, &h, reason);
  if (rc == AB_OK) {
    EXPECT_EQ(ab_commit(r, h, usd(amount), nullptr), AB_OK);
  }
  return rc;
}

}  // namespace

// S6: several limits, all enforced (AND); status shows which one denied.
TEST(Pools, S6_RunAndPoolLimitsBothBind) {
  TestLedger t(team_config("1.00"));
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "s6-R", "0.50", "team=support");
  ab_run* s = begin(l, "s6-S", nullptr, "team=support");
  int32_t reason = 0;
  for (int i = 1; i <= 6; ++i) {
    int rc = reserve_commit(r, "0.10", &reason);
    EXPECT_EQ(rc, i <= 5 ? AB_OK : AB_DENIED) << "R call " << i;
  }
  EXPECT_EQ(reason, AB_REASON_RUN_HARD);
  EXPECT_EQ(status(r).spent_nanos, usd("0.50"));
  EXPECT_EQ(status(r).last_denial, AB_REASON_RUN_HARD);
  for (int i = 1; i <= 6; ++i) {
    int rc = reserve_commit(s, "0.10", &reason);
    EXPECT_EQ(rc, i <= 5 ? AB_OK : AB_DENIED) << "S call " << i;
  }
  EXPECT_EQ(reason, AB_REASON_POOL);
  ab_run_status st = status(s);
  EXPECT_EQ(st.spent_nanos, usd("0.50"));
  EXPECT_EQ(st.last_denial, AB_REASON_POOL);
  EXPECT_STREQ(st.last_denial_pool, "team");
  ab_pool_status ps = pool(l, "team");
  EXPECT_EQ(ps.spent_nanos, usd("1.00"));
  EXPECT_EQ(ps.held_nanos, 0);
  EXPECT_EQ(ps.hard_nanos, usd("1.00"));
  // A plain charge is recorded past the pool's limit; admissions then deny.
  ASSERT_EQ(ab_charge(s, usd("0.05"), nullptr), AB_OK);
  EXPECT_EQ(pool(l, "team").spent_nanos, usd("1.05"));
  EXPECT_EQ(ab_admit(s, 0, &reason), AB_DENIED);
  EXPECT_EQ(reason, AB_REASON_POOL);
  // One soft (50%) and one hard notification for the pool in this period.
  struct Count : ab::EventSink {
    int soft = 0, hard = 0;
    void deliver(const ab::Event& e) override {
      soft += e.kind == ab::EventKind::kPoolSoftThreshold;
      hard += e.kind == ab::EventKind::kPoolHardLimit;
    }
  } count;
  t.daemon().add_sink(&count);
  t.daemon().tick(true);
  t.daemon().tick(true);
  EXPECT_EQ(count.soft, 1);
  EXPECT_EQ(count.hard, 1);
  ab_run_detach(r);
  ab_run_detach(s);
  ab_ledger_close(l);
}

// Exact period boundaries, computed from an injected clock.
TEST(Pools, RollingPeriodBoundariesAreExact) {
  ab::PoolDef d{};
  d.period = ab::PeriodKind::kRolling;
  d.rolling_s = 3600;
  d.anchor_unix_s = 1'000'000'000;
  EXPECT_EQ(ab::period_of(d, 1'000'000'000 + 3599), 0u);
  EXPECT_EQ(ab::period_of(d, 1'000'000'000 + 3600), 1u);
  EXPECT_EQ(ab::period_of(d, 1'000'000'000 + 7199), 1u);
  EXPECT_EQ(ab::next_reset(d, 1), 1'000'000'000 + 7200);
  d.period = ab::PeriodKind::kNone;
  EXPECT_EQ(ab::period_of(d, 2'000'000'000), 0u);
  EXPECT_EQ(ab::next_reset(d, 0), INT64_MAX);
}

TEST(Pools, CalendarPeriodsFollowTheTimeZone) {
  uint64_t first = 0;
  std::vector<int64_t> starts;
  // 2026-03-28 12:00 UTC; Paris moves to summer time on Sunday 29 March.
  ASSERT_TRUE(ab::calendar_starts("day", "Europe/Paris", 1774699200, 8, &first, &starts));
  EXPECT_EQ(starts[0], 1774566000);             // 27 March 00:00 CET = 26 March 23:00 UTC
  EXPECT_EQ(starts[1], 1774652400);             // 28 March 00:00 CET
  EXPECT_EQ(starts[2], 1774738800);             // 29 March 00:00 CET
  EXPECT_EQ(starts[3] - starts[2], 23 * 3600);  // the short day
  EXPECT_EQ(starts[4] - starts[3], 24 * 3600);
  ab::PoolDef d{};
  d.period = ab::PeriodKind::kCalendar;
  d.first_period = first;
  d.start_count = uint32_t(starts.size());
  std::copy(starts.begin(), starts.end(), d.starts);
  EXPECT_EQ(ab::period_of(d, starts[2] - 1), first + 1);  // one second before midnight
  EXPECT_EQ(ab::period_of(d, starts[2]), first + 2);      // midnight exactly
  EXPECT_EQ(ab::next_reset(d, first + 2), starts[3]);
  ASSERT_TRUE(ab::calendar_starts("month", "UTC", 1774699200, 3, &first, &starts));
  EXPECT_EQ(starts[0], 1769904000);  // 2026-02-01: the period before the current one
  EXPECT_EQ(starts[1], 1772323200);  // 2026-03-01
  EXPECT_EQ(starts[2], 1775001600);  // 2026-04-01
  ASSERT_TRUE(ab::calendar_starts("week", "UTC", 1774699200, 2, &first, &starts));
  EXPECT_EQ(starts[1], 1774224000);  // Monday 2026-03-23
  EXPECT_EQ(starts[1] - starts[0], 7 * 86400);
  EXPECT_FALSE(ab::calendar_starts("day", "Mars/Olympus", 1774699200, 2, &first, &starts));
  EXPECT_FALSE(ab::calendar_starts("fortnight", "UTC", 1774699200, 2, &first, &starts));
}

// A rolling one-second pool: full in this period, room again in the next,
// and the daemon reports the period that ended.
TEST(Pools, PeriodRollsOverAtItsBoundary) {
  TestLedger t(team_config("0.10", "rolling", 1));
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "rolling-run", nullptr, "team=support");
  // Start right after a boundary so the whole test fits in one period.
  while (ab::coarse_unix_ns() % 1'000'000'000 > 100'000'000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int32_t reason = 0;
  ASSERT_EQ(reserve_commit(r, "0.10", &reason), AB_OK);
  EXPECT_EQ(reserve_commit(r, "0.01", &reason), AB_DENIED);
  EXPECT_EQ(reason, AB_REASON_POOL);
  uint64_t period = pool(l, "team").period;
  t.daemon().tick(true);  // the daemon's periodic pass sees this period
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(reserve_commit(r, "0.04", &reason), AB_OK);
  ab_pool_status ps = pool(l, "team");
  EXPECT_GT(ps.period, period);
  EXPECT_EQ(ps.spent_nanos, usd("0.04"));
  EXPECT_EQ(ps.previous_spent_nanos, usd("0.10"));
  EXPECT_EQ(status(r).spent_nanos, usd("0.14"));  // the run's own spend never resets
  struct Rolled : ab::EventSink {
    int rolled = 0;
    ab::Nanos spent = -1;
    void deliver(const ab::Event& e) override {
      if (e.kind == ab::EventKind::kPoolPeriodRolled) ++rolled, spent = e.spent;
    }
  } rolled;
  t.daemon().add_sink(&rolled);
  t.daemon().tick(true);
  EXPECT_GE(rolled.rolled, 1);
  ab_run_detach(r);
  ab_ledger_close(l);
}

// Sub-agents: a child's spend rolls up into its parent, whose limit binds it.
TEST(Pools, ChildRunsRollUpIntoTheirParent) {
  TestLedger t(team_config("100.00"));
  ab_ledger* l = t.open();
  ab_run* parent = begin(l, "parent", "1.00", "team=support");
  ab_run* child = begin(l, "child", nullptr, nullptr, "parent");
  ab_run* grandchild = begin(l, "grandchild", nullptr, nullptr, "child");
  ASSERT_EQ(ab_charge(child, usd("0.40"), nullptr), AB_OK);
  ASSERT_EQ(ab_charge(grandchild, usd("0.20"), nullptr), AB_OK);
  EXPECT_EQ(status(parent).child_spent_nanos, usd("0.60"));
  EXPECT_EQ(status(child).child_spent_nanos, usd("0.20"));
  EXPECT_EQ(status(parent).spent_nanos, 0);
  // The child inherited the parent's pool.
  EXPECT_EQ(pool(l, "team").spent_nanos, usd("0.60"));
  int32_t reason = 0;
  ab_hold h;
  EXPECT_EQ(ab_reserve(grandchild, usd("0.50"), 0, &h, &reason), AB_DENIED);  // 0.60 + 0.50 > 1.00
  EXPECT_EQ(reason, AB_REASON_PARENT);
  ASSERT_EQ(ab_reserve(grandchild, usd("0.40"), 0, &h, &reason), AB_OK);
  EXPECT_EQ(ab_admit(parent, usd("0.01"), &reason), AB_DENIED);  // the child's hold counts at the parent
  ASSERT_EQ(ab_release(grandchild, h), AB_OK);
  EXPECT_EQ(ab_admit(parent, usd("0.40"), &reason), AB_OK);
  // Bad parents.
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  ab_run* x = nullptr;
  o.parent = "no-such-run";
  EXPECT_EQ(ab_run_begin(l, "orphan", &o, &x), AB_ERR_NOT_FOUND);
  o.parent = "self";
  EXPECT_EQ(ab_run_begin(l, "self", &o, &x), AB_ERR_INVALID_ARGUMENT);
  o.parent = "";
  EXPECT_EQ(ab_run_begin(l, "empty-parent", &o, &x), AB_ERR_INVALID_ARGUMENT);
  ab_run* ggc = begin(l, "great-grandchild", nullptr, nullptr, "grandchild");
  o.parent = "great-grandchild";
  EXPECT_EQ(ab_run_begin(l, "too-deep", &o, &x), AB_ERR_INVALID_ARGUMENT);
  for (ab_run* r : {ggc, grandchild, child, parent}) ab_run_detach(r);
  ab_ledger_close(l);
}

// A process killed exactly between its run's update and its pool's: the
// daemon detects the interrupted charge and recomputes the pool.
TEST(Pools, ChargeKilledBetweenRunAndPoolIsRepaired) {
  TestLedger t(team_config("10.00"));
  ab_ledger* l = t.open();
  ab_run* a = begin(l, "repair-a", nullptr, "team=support");
  ab_run* b = begin(l, "repair-b", nullptr, "team=support");
  ASSERT_EQ(ab_charge(a, usd("1.00"), nullptr), AB_OK);
  ab::Ledger& core = t.daemon().ledger();
  ab::RunRef ref;
  ASSERT_EQ(core.find("repair-b", &ref), ab::Status::kOk);
  pid_t child = fork();
  if (child == 0) {
    uint32_t idx = 0;
    ab::HoldSlot* op = ab::claim_hold_slot(core, ab::HoldState::kCharging, uint32_t(getpid()), &idx);
    ab::init_hold_slot(*op, ab::self_identity(), ref.index, ref.generation, 0, 0);
    ref.slot->spent.fetch_add(usd("0.25"));  // the run's update, then death before the pool's
    raise(SIGKILL);
  }
  waitpid(child, nullptr, 0);
  EXPECT_EQ(pool(l, "team").spent_nanos, usd("1.00"));
  t.daemon().tick(false);
  EXPECT_EQ(t.daemon().reaped().repaired, 1u);
  EXPECT_EQ(pool(l, "team").spent_nanos, usd("1.25"));
  EXPECT_EQ(status(b).spent_nanos, usd("0.25"));
  // And the ledger goes on normally.
  ASSERT_EQ(ab_charge(b, usd("0.25"), nullptr), AB_OK);
  EXPECT_EQ(pool(l, "team").spent_nanos, usd("1.50"));
  ab_run_detach(a);
  ab_run_detach(b);
  ab_ledger_close(l);
}

// Ended runs give their slots back after the grace period; stale handles
// are refused; pool totals keep recycled runs' spend.
TEST(Pools, EndedRunsAreRecycled) {
  ab::DaemonConfig cfg = team_config("100.00");
  cfg.run_capacity = 16;
  cfg.closed_run_grace_s = 60;
  TestLedger t(cfg);
  ab_ledger* l = t.open();
  for (int round = 0; round < 5; ++round) {
    std::vector<ab_run*> runs;
    for (int i = 0; i < 16; ++i) {
      ab_run* r = nullptr;
      std::string id = "cycle-" + std::to_string(round) + "-" + std::to_string(i);
      ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
      o.labels = "team=support";
      ASSERT_EQ(ab_run_begin(l, id.c_str(), &o, &r), AB_OK) << id;
      ASSERT_EQ(ab_charge(r, usd("0.01"), nullptr), AB_OK);
      runs.push_back(r);
    }
    ab_run* extra = nullptr;
    EXPECT_EQ(ab_run_begin(l, "one-too-many", nullptr, &extra), AB_ERR_TABLE_FULL);
    ab_run* straggler = nullptr;
    ASSERT_EQ(ab_run_begin(l, ("cycle-" + std::to_string(round) + "-0").c_str(), nullptr, &straggler), AB_OK);
    for (auto* r : runs) ASSERT_EQ(ab_run_end(r), AB_OK);
    t.daemon().tick(true);  // within the grace period: nothing recycled
    EXPECT_EQ(ab_charge(straggler, 1, nullptr), AB_ERR_RUN_CLOSED);
    t.daemon().tick(true, ab::unix_ns() + 61'000'000'000ull);
    EXPECT_EQ(ab_charge(straggler, 1, nullptr), AB_ERR_STALE_HANDLE);
    ab_run_detach(straggler);
  }
  EXPECT_EQ(t.daemon().recycled().recycled, 80u);
  EXPECT_EQ(pool(l, "team").spent_nanos, usd("0.80"));  // archived spend stays in the pool
  ab_ledger_close(l);
}

// Processes begin the same ids while others begin and end unique runs and
// the daemon recycles without pause: no id ever gets two slots, and every
// charge lands on its run.
TEST(Pools, RecyclingNeverDuplicatesAnId) {
  // 256 slots, churned through many times: a tombstone inside a live run's
  // probe walk stays until that run ends, so a much smaller table under this
  // churn can fill with such tombstones (AB_ERR_TABLE_FULL, never a duplicate).
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.run_capacity = 256;
  cfg.closed_run_grace_s = 1;
  TestLedger t(cfg);
  std::atomic<bool> stop{false};
  std::thread recycler([&] {
    while (!stop) t.daemon().tick(true, ab::unix_ns() + 10'000'000'000ull);
  });
  std::string name = t.name();
  auto* shared_begins = shared_array<std::atomic<int64_t>>(1);
  auto pids = fork_children(4, [&](int c) {
    ab_ledger* l = nullptr;
    if (ab_ledger_open(name.c_str(), &l) != AB_OK) return 1;
    // Until 300 runs each went through, or 10 s.
    uint64_t deadline = ab::unix_ns() + 10'000'000'000ull;
    for (int k = 0, done = 0; done < 300 && ab::unix_ns() < deadline; ++k) {
      ab_run* r = nullptr;
      if (c < 2) {  // churn: unique runs begun and ended
        std::string id = "churn-" + std::to_string(c) + "-" + std::to_string(k);
        int rc = ab_run_begin(l, id.c_str(), nullptr, &r);
        if (rc == AB_ERR_TABLE_FULL || rc == AB_ERR_BUSY) continue;
        ++done;
        if (rc != AB_OK) return 2;
        ab_run_end(r);
      } else {  // the same few ids from two processes
        std::string id = "shared-" + std::to_string(k % 8);
        int rc = ab_run_begin(l, id.c_str(), nullptr, &r);
        if (rc == AB_ERR_TABLE_FULL || rc == AB_ERR_BUSY) continue;
        if (rc != AB_OK) return 3;
        ++done;
        shared_begins->fetch_add(1);
        if (ab_charge(r, 1, nullptr) != AB_OK) return 4;
        ab_run_detach(r);
      }
    }
    return 0;
  });
  EXPECT_EQ(wait_all(pids), 4);
  stop = true;
  recycler.join();
  std::map<std::string, int> seen;
  ab::Ledger& core = t.daemon().ledger();
  for (uint32_t i = 0; i < core.capacity(); ++i) {
    ab::SlotState st = ab::word_state(core.slots()[i].word.load());
    if (st == ab::SlotState::kActive) ++seen[core.slots()[i].id];
  }
  // Never two slots for one id. (Under this churn a begin may also find the
  // table full for a while, until the daemon recycles: that is not checked.)
  for (int k = 0; k < 8; ++k) EXPECT_LE(seen["shared-" + std::to_string(k)], 1) << k;
  int64_t charged = 0;
  for (uint32_t i = 0; i < core.capacity(); ++i)
    if (ab::word_state(core.slots()[i].word.load()) == ab::SlotState::kActive &&
        std::string(core.slots()[i].id).rfind("shared-", 0) == 0)
      charged += core.slots()[i].spent.load();
  EXPECT_EQ(charged, shared_begins->load());  // every charge of the sharing processes landed on its run
  EXPECT_GT(shared_begins->load(), 0);
  EXPECT_GE(t.daemon().recycled().recycled, 300u);
}

// Runs sharing a tight pool, reserving, committing, releasing and being
// SIGKILLed, 1,000 times. After each trial and the daemon's pass: no hold
// left, nothing held on any level, no run and no pool past its hard limit
// through reservations, the pool's total equal to its runs' spend, and each
// run's spend the sum of its successful commits plus at most what killed
// processes were committing.
TEST(Pools, RandomSigkillStressOnSharedPools) {
  ab::DaemonConfig cfg = team_config("1000000.00");
  cfg.hold_capacity = 256;
  cfg.run_capacity = 4096;
  TestLedger t(cfg);
  ab::Ledger& core = t.daemon().ledger();
  const int trials = 1000, children = 3, runs_per_trial = 2;
  auto* committed = shared_array<std::atomic<int64_t>>(children * runs_per_trial);
  auto* committing = shared_array<std::atomic<int64_t>>(children * runs_per_trial);
  auto* started = shared_array<std::atomic<int>>(1);
  std::string name = t.name();
  std::mt19937 rng(424242);
  ab_ledger* l = t.open();
  for (int trial = 0; trial < trials; ++trial) {
    // A fresh, tight pool budget for this trial on top of what was spent.
    int64_t before = pool(l, "team").spent_nanos;
    int64_t pool_budget = usd("0.001") + int64_t(rng() % 40) * usd("0.0001");
    const_cast<ab::PoolDef&>(core.pool_defs()[0]).hard_nanos.store(before + pool_budget);
    int64_t run_hard = usd("0.002");
    std::string ids[runs_per_trial];
    ab_run* runs[runs_per_trial];
    for (int r = 0; r < runs_per_trial; ++r) {
      ids[r] = "pstress-" + std::to_string(trial) + "-" + std::to_string(r);
      runs[r] = begin(l, ids[r].c_str(), "0.002", "team=support");
    }
    for (int i = 0; i < children * runs_per_trial; ++i) committed[i] = 0, committing[i] = 0;
    *started = 0;
    unsigned seed = rng();
    bool exact = trial % 2 == 1;
    auto pids = fork_children(children, [&](int c) {
      ab_ledger* cl = nullptr;
      if (ab_ledger_open(name.c_str(), &cl) != AB_OK) return 1;
      ab_run* mine[runs_per_trial];
      for (int r = 0; r < runs_per_trial; ++r)
        if (ab_run_begin(cl, ids[r].c_str(), nullptr, &mine[r]) != AB_OK) return 2;
      std::mt19937 g(seed + unsigned(c));
      // One hold kept until the kill, so that every trial also exercises
      // the reclaim of a dead process's hold on a pooled run.
      ab_hold anchor;
      ab_reserve(mine[0], 1000, 0, &anchor, nullptr);
      started->fetch_add(1);
      for (int k = 0; k < 2'000'000; ++k) {
        int r = int(g() % runs_per_trial);
        int64_t est = 1000 + int64_t(g() % 40) * 1000;
        ab_hold h;
        if (ab_reserve(mine[r], est, 0, &h, nullptr) != AB_OK) continue;
        if (g() % 8 != 0) {
          if (ab_release(mine[r], h) != AB_OK) return 3;
          continue;
        }
        int64_t actual = exact ? est : est - int64_t(g() % uint64_t(est));
        committing[c * runs_per_trial + r] = actual;
        if (ab_commit(mine[r], h, actual, nullptr) != AB_OK) return 4;
        committed[c * runs_per_trial + r] += actual;
        committing[c * runs_per_trial + r] = 0;
      }
      return 0;
    });
    wait_until_started(*started, children, pids);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1500));
    for (pid_t p : pids) kill(p, SIGKILL);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
    for (int pass = 0; pass < 3; ++pass) t.daemon().tick(false);
    ab_pool_status ps = pool(l, "team");
    ASSERT_EQ(ps.held_nanos, 0) << "trial " << trial;
    ASSERT_LE(ps.spent_nanos - before, pool_budget) << "trial " << trial;
    int64_t runs_total = 0;
    for (int r = 0; r < runs_per_trial; ++r) {
      ab_run_status st = status(runs[r]);
      int64_t ok_sum = 0, in_doubt = 0;
      for (int c = 0; c < children; ++c) {
        ok_sum += committed[c * runs_per_trial + r].load();
        in_doubt += committing[c * runs_per_trial + r].load();
      }
      ASSERT_EQ(st.held_nanos, 0) << "trial " << trial;
      ASSERT_EQ(st.in_flight, 0u) << "trial " << trial;
      ASSERT_LE(st.spent_nanos, run_hard) << "trial " << trial;
      ASSERT_GE(st.spent_nanos, ok_sum) << "trial " << trial;
      ASSERT_LE(st.spent_nanos, ok_sum + in_doubt) << "trial " << trial;
      runs_total += st.spent_nanos;
      ab_run_end(runs[r]);
    }
    ASSERT_EQ(ps.spent_nanos - before, runs_total) << "trial " << trial;
    for (uint32_t i = 0; i < core.hold_capacity(); ++i)
      ASSERT_EQ(ab::hold_state(core.holds()[i].word.load()), ab::HoldState::kFree) << "trial " << trial;
  }
  const ab::ReapStats& r = t.daemon().reaped();
  std::printf(
      "pool stress: %d trials; daemon released %zu holds of dead processes, repaired %zu interrupted "
      "transitions\n",
      trials, r.released_dead, r.repaired);
  EXPECT_GT(r.released_dead, 0u);
  ab_ledger_close(l);
}
