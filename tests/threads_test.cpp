// Many threads of one process on one ledger handle: the same guarantees as
// across processes (and what TSan checks in the thread-sanitizer build).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_ledger.h"

using namespace abtest;

TEST(Threads, SharedHandleChargesAreExact) {
  TestLedger t;
  ab_ledger* l = t.open();
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "threads-exact", nullptr, &r), AB_OK);
  const int n = 4, per = 50000;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      for (int k = 0; k < per; ++k) {
        if (ab_charge(r, 1 + i, nullptr) != AB_OK) failures++;
        int32_t reason;
        if (ab_admit(r, 0, &reason) != AB_OK) failures++;
      }
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(failures.load(), 0);
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, int64_t(per) * (1 + 2 + 3 + 4));
  EXPECT_EQ(st.calls, uint64_t(n) * per);
  ab_run_detach(r);
  ab_ledger_close(l);
}

TEST(Threads, ConcurrentBeginsAndCrossings) {
  TestLedger t;
  const int n = 4, ids = 100;
  std::vector<ab_ledger*> ledgers;
  for (int i = 0; i < n; ++i) ledgers.push_back(t.open());  // a library instance per thread
  std::atomic<int> crossed_hard{0}, failures{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
      o.hard_nanos = 1000;
      for (int k = 0; k < ids; ++k) {
        ab_run* r = nullptr;
        if (ab_run_begin(ledgers[size_t(i)], ("tid-" + std::to_string(k)).c_str(), &o, &r) != AB_OK) {
          failures++;
          continue;
        }
        for (int c = 0; c < 100; ++c) {
          uint32_t flags = 0;
          if (ab_charge(r, 5, &flags) != AB_OK) failures++;
          if (flags & AB_CHARGE_CROSSED_HARD) crossed_hard++;
        }
        ab_run_detach(r);
      }
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(crossed_hard.load(), ids);  // 4 x 100 x 5 = 2000 >= 1000 once per run
  for (auto* l : ledgers) ab_ledger_close(l);
}

// Threads reserving, committing and releasing on one run and one pool while
// the daemon's periodic pass runs in another thread of the same process:
// what ThreadSanitizer checks in the thread-sanitizer build.
TEST(Threads, ReservationsWithTheDaemonPassRunning) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  ab::PoolConfig pool;
  pool.name = "team";
  pool.hard = usd("0.05");
  pool.period = "rolling";
  pool.rolling_s = 3600;
  cfg.pools.push_back(pool);
  ab::PolicyConfig p;
  p.name = "pooled";
  p.matches = {{"team", "t"}};
  p.pools = {"team"};
  cfg.policies.push_back(p);
  cfg.hold_capacity = 1024;
  TestLedger t(cfg);
  std::atomic<bool> stop{false};
  std::thread daemon([&] {
    while (!stop) t.daemon().tick(true);
  });
  ab_ledger* l = t.open();
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = "team=t";
  o.hard_nanos = usd("0.04");
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "threads-pooled", &o, &r), AB_OK);
  std::atomic<int64_t> committed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i)
    ts.emplace_back([&, i] {
      for (int k = 0; k < 5000; ++k) {
        ab_hold h;
        if (ab_reserve(r, 1000 + i, 0, &h, nullptr) != AB_OK) continue;
        if (k % 3 == 0) {
          ab_release(r, h);
        } else if (ab_commit(r, h, 500, nullptr) == AB_OK) {
          committed += 500;
        }
      }
    });
  for (auto& th : ts) th.join();
  stop = true;
  daemon.join();
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, committed.load());
  EXPECT_EQ(st.held_nanos, 0);
  EXPECT_EQ(st.in_flight, 0u);
  EXPECT_LE(st.spent_nanos, usd("0.04"));
  ab_run_detach(r);
  ab_ledger_close(l);
}
