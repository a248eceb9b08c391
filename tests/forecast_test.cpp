// Forecasts: a spend rate from recent charges, a projection to the run's (or
// pool period's) horizon and the forecast_over_budget event, which fires
// once, early, and never again for the same run or pool period, even from
// a restarted daemon. Time is injected into the daemon's pass (charges keep
// their real timestamps, so every injected instant is after them).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "clock.h"

#include "forecaster.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

constexpr uint64_t kSecond = 1'000'000'000u;

struct Capture : ab::EventSink {
  std::vector<ab::Event> events;
  void deliver(const ab::Event& e) override {
    if (e.kind == ab::EventKind::kForecastOverBudget) events.push_back(e);
  }
};

ab::DaemonConfig forecast_config(uint64_t min_age_s, uint64_t horizon_s) {
  ab::DaemonConfig c = ab::builtin_default_config();
  c.forecast_min_age_s = min_age_s;
  c.forecast_horizon_s = horizon_s;
  return c;
}

ab_run* begin(ab_ledger* l, const char* id, const char* hard, uint32_t max_duration_s = 0,
              const char* labels = nullptr) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.hard_nanos = usd(hard);
  o.max_duration_s = max_duration_s;
  o.labels = labels;
  ab_run* r = nullptr;
  EXPECT_EQ(ab_run_begin(l, id, &o, &r), AB_OK);
  return r;
}

ab_run_status status(ab_run* r) {
  ab_run_status st;
  st.struct_size = sizeof st;
  EXPECT_EQ(ab_run_status_get(r, &st), AB_OK);
  return st;
}

// The slot index and generation of a run, as the daemon's forecaster keys it.
ab::Forecast forecast_of(ab::Daemon& d, const char* id) {
  ab::RunRef ref;
  EXPECT_EQ(d.ledger().find(id, &ref), ab::Status::kOk);
  return d.forecaster().run(ref.index, ref.generation);
}

}  // namespace

// $0.02 a second against a $10 cap: $18 by the 900 s horizon. The event
// waits for the run to be 30 s old, then fires at that very pass, once.
TEST(Forecast, FiresOnceEarlyForARunOnTrackToExceed) {
  TestLedger t(forecast_config(30, 900));
  Capture cap;
  t.daemon().add_sink(&cap);
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "fast-run", "10");
  ASSERT_EQ(ab_charge(r, usd("0.02"), nullptr), AB_OK);
  const uint64_t t0 = status(r).first_charge_unix_ns;
  ASSERT_NE(t0, 0u);
  for (uint64_t k = 1; k <= 60; ++k) {
    ASSERT_EQ(ab_charge(r, usd("0.02"), nullptr), AB_OK);
    t.daemon().tick(true, t0 + k * kSecond);
    ab::Forecast f = forecast_of(t.daemon(), "fast-run");
    ASSERT_TRUE(f.known) << k;
    // The first step also counts the first charge: the rate starts at
    // $0.04/s and settles towards $0.02/s, never outside that range.
    EXPECT_GE(f.rate_nanos_per_s, 0.02e9 - 1) << k;
    EXPECT_LE(f.rate_nanos_per_s, 0.04e9 + 1) << k;
    EXPECT_EQ(f.load, int64_t(k + 1) * usd("0.02"));
    EXPECT_TRUE(f.over_budget) << k;
    EXPECT_EQ(f.horizon_unix_s, (t0 + k * kSecond) / kSecond + 900);
    EXPECT_EQ(cap.events.size(), k < 30 ? 0u : 1u) << "pass " << k;
  }
  ASSERT_EQ(cap.events.size(), 1u);
  const ab::Event& e = cap.events[0];
  EXPECT_EQ(e.run_id, "fast-run");
  EXPECT_EQ(e.hard, usd("10"));
  EXPECT_EQ(e.spent, 31 * usd("0.02"));  // fired at pass 30: 31 charges made
  EXPECT_GT(e.forecast_final, usd("10"));
  // Time to the cap at the rate of that pass: between $9.38 / $0.04 and / $0.02.
  EXPECT_GE(e.exhaust_in_s, 234u);
  EXPECT_LE(e.exhaust_in_s, 469u);
  // The run's status shows the forecast as delivered, and a second
  // forecaster on the same segment (a restarted daemon) does not repeat it.
  ab::Forecaster again(t.daemon().ledger());
  Capture cap2;
  std::vector<ab::EventSink*> sinks{&cap2};
  for (uint64_t k = 61; k <= 100; ++k) {
    ASSERT_EQ(ab_charge(r, usd("0.02"), nullptr), AB_OK);
    again.pass(sinks, {30, 900}, t0 + k * kSecond);
  }
  EXPECT_TRUE(cap2.events.empty());
  ab_run_detach(r);
  ab_ledger_close(l);
}

// $0.001 a second with a $10 cap: $0.90 by the horizon, well under. The
// forecast is there (rate, time to exhaustion) but never "over budget".
TEST(Forecast, RunUnderBudgetIsForecastButNeverFires) {
  TestLedger t(forecast_config(1, 900));
  Capture cap;
  t.daemon().add_sink(&cap);
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "slow-run", "10");
  ASSERT_EQ(ab_charge(r, usd("0.001"), nullptr), AB_OK);
  const uint64_t t0 = status(r).first_charge_unix_ns;
  for (uint64_t k = 1; k <= 120; ++k) {
    ASSERT_EQ(ab_charge(r, usd("0.001"), nullptr), AB_OK);
    t.daemon().tick(true, t0 + k * kSecond);
  }
  ab::Forecast f = forecast_of(t.daemon(), "slow-run");
  ASSERT_TRUE(f.known);
  EXPECT_FALSE(f.over_budget);
  // The first one-second step counts the first charge too ($0.002/s); each
  // later step moves the average 1 - e^(-1/60) of the way to $0.001/s.
  const double rate = 0.001e9 * (1 + std::exp(-119.0 / ab::kRateWindowS));
  EXPECT_NEAR(f.rate_nanos_per_s, rate, 1.0);
  EXPECT_EQ(f.exhaust_in_s, int64_t(double(usd("10") - 121 * usd("0.001")) / f.rate_nanos_per_s));
  EXPECT_LT(f.projected, usd("10"));
  EXPECT_TRUE(cap.events.empty());
  ab_run_detach(r);
  ab_ledger_close(l);
}

// A run with a maximum duration stops spending by then: at $0.02/s with
// 60 s allowed it ends near $1.20, under its $10 cap, so no event; the same
// rate with 900 s allowed is on track to exceed and fires.
TEST(Forecast, MaxDurationIsTheHorizon) {
  TestLedger t(forecast_config(1, 86400));
  Capture cap;
  t.daemon().add_sink(&cap);
  ab_ledger* l = t.open();
  ab_run* brief = begin(l, "brief", "10", 60);
  ab_run* longer = begin(l, "longer", "10", 900);
  ASSERT_EQ(ab_charge(brief, usd("0.02"), nullptr), AB_OK);
  ASSERT_EQ(ab_charge(longer, usd("0.02"), nullptr), AB_OK);
  const uint64_t t0 = std::max(status(brief).first_charge_unix_ns, status(longer).first_charge_unix_ns);
  const uint64_t begun_s = status(brief).begun_unix_ns / kSecond;
  for (uint64_t k = 1; k <= 20; ++k) {
    ASSERT_EQ(ab_charge(brief, usd("0.02"), nullptr), AB_OK);
    ASSERT_EQ(ab_charge(longer, usd("0.02"), nullptr), AB_OK);
    t.daemon().tick(true, t0 + k * kSecond);
  }
  ab::Forecast b = forecast_of(t.daemon(), "brief");
  ASSERT_TRUE(b.known);
  EXPECT_EQ(b.horizon_unix_s, begun_s + 60);
  EXPECT_FALSE(b.over_budget);
  EXPECT_LT(b.projected, usd("2"));
  ASSERT_EQ(cap.events.size(), 1u);
  EXPECT_EQ(cap.events[0].run_id, "longer");
  ab_run_detach(brief);
  ab_run_detach(longer);
  ab_ledger_close(l);
}

ab::DaemonConfig pool_config(const char* period, uint64_t rolling_s) {
  ab::DaemonConfig c = forecast_config(5, 600);
  add_team_pool(&c, "5", "search", period, rolling_s);
  return c;
}

// A pool without a period is projected over the configured horizon: at
// $0.01/s, $6 in 600 s against $5. It fires once, at the first pass
// min_age_s after the daemon first saw the pool, and never again.
TEST(Forecast, PoolOnTrackFiresOnce) {
  TestLedger t(pool_config("none", 0));
  Capture cap;
  t.daemon().add_sink(&cap);
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "pooled-run", "100", 0, "team=search");
  const uint64_t t0 = status(r).begun_unix_ns + kSecond;
  for (uint64_t k = 0; k <= 30; ++k) {
    ASSERT_EQ(ab_charge(r, usd("0.01"), nullptr), AB_OK);
    t.daemon().tick(true, t0 + k * kSecond);
    EXPECT_EQ(cap.events.size(), k < 5 ? 0u : 1u) << "pass " << k;
  }
  {
    std::lock_guard lock(t.daemon().config_mutex());
    ab::Forecast f = t.daemon().forecaster().pool(0);
    ASSERT_TRUE(f.known);
    EXPECT_EQ(f.load, 31 * usd("0.01"));
    EXPECT_NEAR(f.rate_nanos_per_s, 0.01e9, 1e3);  // equal steps: $0.01/s
    EXPECT_EQ(f.horizon_unix_s, (t0 + 30 * kSecond) / kSecond + 600);
    EXPECT_TRUE(f.over_budget);
  }
  ASSERT_EQ(cap.events.size(), 1u);
  EXPECT_EQ(cap.events[0].pool, "team");
  EXPECT_EQ(cap.events[0].spent, 6 * usd("0.01"));
  EXPECT_GT(cap.events[0].forecast_final, usd("5"));
  // A restarted daemon's forecaster finds it delivered for this period.
  ab::Forecaster again(t.daemon().ledger());
  Capture cap2;
  std::vector<ab::EventSink*> sinks{&cap2};
  for (uint64_t k = 31; k <= 60; ++k) {
    ASSERT_EQ(ab_charge(r, usd("0.01"), nullptr), AB_OK);
    again.pass(sinks, {5, 600}, t0 + k * kSecond);
  }
  EXPECT_TRUE(cap2.events.empty());
  ab_run_detach(r);
  ab_ledger_close(l);
}

// A pool with a period is projected to its reset, which status reports.
TEST(Forecast, PeriodPoolIsProjectedToItsReset) {
  TestLedger t(pool_config("rolling", 3600));
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "pooled-run", "100", 0, "team=search");
  ab_pool_status ps;
  ps.struct_size = sizeof ps;
  // Two passes a second apart, both in the period the clients charge in:
  // if the hour ends within the next two seconds, wait for the next one.
  for (;;) {
    ASSERT_EQ(ab_pool_status_get(l, "team", &ps), AB_OK);
    int64_t now_s = int64_t(ab::unix_ns() / kSecond);
    if (ps.next_reset_unix_s - now_s > 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const uint64_t now = ab::unix_ns();
  ASSERT_EQ(ab_charge(r, usd("0.50"), nullptr), AB_OK);
  t.daemon().tick(true, now);
  ASSERT_EQ(ab_charge(r, usd("0.50"), nullptr), AB_OK);
  t.daemon().tick(true, now + kSecond);
  std::lock_guard lock(t.daemon().config_mutex());
  ab::Forecast f = t.daemon().forecaster().pool(0);
  ASSERT_TRUE(f.known);
  EXPECT_EQ(int64_t(f.horizon_unix_s), ps.next_reset_unix_s);
  EXPECT_EQ(f.load, usd("1"));
  EXPECT_NEAR(f.rate_nanos_per_s, 0.5e9, 1e3);
  // $0.50/s until the reset, whatever is left of the hour (more than 2 s).
  const double ahead_s = double(ps.next_reset_unix_s) - double(now + kSecond) / 1e9;
  EXPECT_NEAR(double(f.projected), 1e9 + 0.5e9 * ahead_s, 1e6);
  EXPECT_TRUE(f.over_budget == (1e9 + 0.5e9 * ahead_s > 5e9));
  ab_run_detach(r);
  ab_ledger_close(l);
}
