// Black-box scenarios S2, S10-S15 of shared/scenarios.md through the C ABI,
// against the bundled real price table.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <limits>

#include "test_ledger.h"

using namespace abtest;

namespace {

struct OpenRun {
  ab_ledger* l;
  ab_run* r = nullptr;
  OpenRun(const TestLedger& t, const char* id, int64_t hard, const char* labels = nullptr) : l(t.open()) {
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.hard_nanos = hard;
    o.labels = labels;
    EXPECT_EQ(ab_run_begin(l, id, &o, &r), AB_OK);
  }
  ~OpenRun() {
    ab_run_detach(r);
    ab_ledger_close(l);
  }
  int64_t spent() const {
    ab_run_status st;
    st.struct_size = sizeof st;
    EXPECT_EQ(ab_run_status_get(r, &st), AB_OK);
    return st.spent_nanos;
  }
};

}  // namespace

// S2: a post-charge past the limit denies every later admission, in every
// process, through its own library instance and handle.
TEST(Scenario, S2_OverBudgetIsOverBudgetEverywhere) {
  TestLedger t;
  {
    OpenRun a(t, "s2-run", usd("10.00"));
    uint32_t flags = 0;
    ASSERT_EQ(ab_charge(a.r, usd("10.50"), &flags), AB_OK);  // recorded although over
    EXPECT_TRUE(flags & AB_CHARGE_OVER_HARD);
    EXPECT_TRUE(flags & AB_CHARGE_CROSSED_HARD);
    EXPECT_EQ(a.spent(), usd("10.50"));
  }
  std::string name = t.name();
  auto pids = fork_children(3, [&](int) {
    ab_ledger* l = nullptr;
    if (ab_ledger_open(name.c_str(), &l) != AB_OK) return 10;
    ab_run* r = nullptr;
    if (ab_run_begin(l, "s2-run", nullptr, &r) != AB_OK) return 11;
    int32_t reason = -1;
    if (ab_admit(r, usd("0.01"), &reason) != AB_DENIED) return 12;
    if (reason != AB_REASON_RUN_HARD) return 13;
    if (ab_admit(r, 0, &reason) != AB_DENIED) return 14;
    return 0;
  });
  EXPECT_EQ(wait_all(pids), 3);
}

// S10: tokens, not a zero provider cost field, decide the price.
TEST(Scenario, S10_TokensDecideThePrice) {
  TestLedger t;
  OpenRun run(t, "s10", usd("1.00"));
  ab_usage u = AB_USAGE_INIT;
  u.shape = AB_USAGE_ANTHROPIC;  // claude-sonnet-4-5: $3 / 1M input
  u.input_tokens = 100000;
  int granted = 0;
  for (int i = 0; i < 5; ++i) {
    if (ab_admit(run.r, usd("0.30"), nullptr) != AB_OK) break;
    ++granted;
    int64_t cost = 0;
    ASSERT_EQ(ab_charge_usage(run.r, "claude-sonnet-4-5-20250929", &u, &cost, nullptr), AB_OK);
    EXPECT_EQ(cost, usd("0.30"));
  }
  EXPECT_EQ(granted, 3);  // the 4th reservation-sized admission is denied
  EXPECT_EQ(run.spent(), usd("0.90"));
}

// S11: OpenAI/Gemini shape, cached tokens are part of the prompt.
TEST(Scenario, S11_CachedInputIsNotBilledTwice) {
  TestLedger t;
  OpenRun run(t, "s11", -1);
  ab_usage u = AB_USAGE_INIT;  // gpt-5: $1.25 in, $0.125 cached, $10 out per 1M
  u.input_tokens = 100000;
  u.cached_tokens = 80000;
  u.output_tokens = 1000;
  int64_t cost = 0;
  ASSERT_EQ(ab_charge_usage(run.r, "gpt-5", &u, &cost, nullptr), AB_OK);
  EXPECT_EQ(cost, usd("0.045"));
  EXPECT_EQ(run.spent(), usd("0.045"));
}

// S12: Anthropic shape, input excludes cache writes.
TEST(Scenario, S12_CacheWritesAreNotBilledTwice) {
  TestLedger t;
  OpenRun run(t, "s12", -1);
  ab_usage u = AB_USAGE_INIT;  // $3 in, $3.75 5-min cache write, $15 out
  u.shape = AB_USAGE_ANTHROPIC;
  u.input_tokens = 3;
  u.cache_write_5m_tokens = 12304;
  u.output_tokens = 550;
  int64_t cost = 0;
  ASSERT_EQ(ab_charge_usage(run.r, "claude-sonnet-4-5-20250929", &u, &cost, nullptr), AB_OK);
  EXPECT_EQ(cost, usd("0.054399"));
}

// S13: exact caps trip exactly.
TEST(Scenario, S13_ExactCapsTripExactly) {
  TestLedger t;
  {
    OpenRun run(t, "s13a", usd("0.80"));
    ASSERT_EQ(ab_charge(run.r, usd("0.10"), nullptr), AB_OK);
    uint32_t flags = 0;
    ASSERT_EQ(ab_charge(run.r, usd("0.70"), &flags), AB_OK);
    EXPECT_TRUE(flags & AB_CHARGE_OVER_HARD);
    EXPECT_EQ(run.spent(), usd("0.80"));
    int32_t reason = 0;
    EXPECT_EQ(ab_admit(run.r, usd("0.000001"), &reason), AB_DENIED);
    EXPECT_EQ(reason, AB_REASON_RUN_HARD);
  }
  {
    OpenRun run(t, "s13b", usd("1.00"));
    int granted = 0;
    for (int i = 1; i <= 10001; ++i) {
      if (ab_admit(run.r, usd("0.0001"), nullptr) != AB_OK) break;
      ++granted;
      ASSERT_EQ(ab_charge(run.r, usd("0.0001"), nullptr), AB_OK);
    }
    EXPECT_EQ(granted, 10000);
    EXPECT_EQ(run.spent(), usd("1.00"));
    EXPECT_EQ(ab_admit(run.r, 0, nullptr), AB_DENIED);
  }
}

// S14: bad amounts change nothing, through every entry point that takes one.
TEST(Scenario, S14_BadAmountsChangeNothing) {
  TestLedger t;
  OpenRun run(t, "s14", usd("10.00"));
  ASSERT_EQ(ab_charge(run.r, usd("0.50"), nullptr), AB_OK);
  int64_t n = 0;
  EXPECT_EQ(ab_usd_from_double(-0.008, &n), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_usd_from_double(std::nan(""), &n), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_usd_from_double(std::numeric_limits<double>::infinity(), &n), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_usd_from_double(1e30, &n), AB_ERR_INVALID_AMOUNT);
  for (const char* s : {"-0.008", "nan", "NaN", "inf", "+Inf", "1e30", "", "0.1.2", "1e-10"})
    EXPECT_EQ(ab_usd_parse(s, &n), AB_ERR_INVALID_AMOUNT) << s;
  EXPECT_EQ(ab_charge(run.r, -8000000, nullptr), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_charge(run.r, INT64_MAX, nullptr), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_charge(run.r, INT64_MIN, nullptr), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_admit(run.r, -1, nullptr), AB_ERR_INVALID_AMOUNT);
  ab_usage u = AB_USAGE_INIT;
  u.input_tokens = 10;
  u.cached_tokens = 20;  // cached > prompt in the OpenAI shape
  EXPECT_EQ(ab_charge_usage(run.r, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_USAGE);
  u.cached_tokens = 0;
  u.input_tokens = UINT64_MAX / 2;  // absurd: the cost would overflow
  EXPECT_EQ(ab_charge_usage(run.r, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_USAGE);
  EXPECT_EQ(run.spent(), usd("0.50"));
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(run.r, &st), AB_OK);
  EXPECT_EQ(st.calls, 1u);
}

// S15: an unpriced model is never free, and provider prefixes resolve.
TEST(Scenario, S15_UnpricedModelsAreNeverFree) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  ab::PolicyConfig deny;
  deny.name = "strict";
  deny.unknown_model = ab::UnknownModel::kDeny;
  deny.matches = {{"mode", "strict"}};
  cfg.policies.push_back(deny);
  TestLedger t(cfg);
  ab_usage u = AB_USAGE_INIT;
  u.input_tokens = 10000;
  {  // default policy: fallback rate ($15 / 1M input) and one event
    OpenRun run(t, "s15-fallback", usd("1.00"));
    int charged = 0;
    for (int i = 0; i < 200; ++i) {
      if (ab_admit(run.r, 0, nullptr) != AB_OK) break;
      int64_t cost = 0;
      uint32_t flags = 0;
      ASSERT_EQ(ab_charge_usage(run.r, "acme-new-1", &u, &cost, &flags), AB_OK);
      EXPECT_EQ(cost, usd("0.15"));
      EXPECT_TRUE(flags & AB_CHARGE_UNPRICED);
      ++charged;
    }
    EXPECT_EQ(charged, 7);  // $1.05 after 7 calls: stopped, never $0
    EXPECT_EQ(run.spent(), usd("1.05"));
  }
  {  // deny policy: refused, nothing recorded, later admissions denied
    OpenRun run(t, "s15-deny", usd("1.00"), "mode=strict");
    int64_t cost = -1;
    EXPECT_EQ(ab_charge_usage(run.r, "acme-new-1", &u, &cost, nullptr), AB_ERR_UNKNOWN_MODEL);
    EXPECT_EQ(cost, 0);
    int32_t reason = 0;
    EXPECT_EQ(ab_admit(run.r, 0, &reason), AB_DENIED);
    EXPECT_EQ(reason, AB_REASON_UNPRICED);
    EXPECT_EQ(run.spent(), 0);
  }
  // Exactly one unpriced_model event per run, however many unpriced calls.
  struct Capture : ab::EventSink {
    int unpriced = 0;
    void deliver(const ab::Event& e) override { unpriced += e.kind == ab::EventKind::kUnpricedModel; }
  } cap;
  t.daemon().add_sink(&cap);
  t.daemon().tick(true);
  EXPECT_EQ(cap.unpriced, 2);
  // Provider prefixes resolve to the bare model's price.
  ab_ledger* l = t.open();
  int64_t a = 0, b = 0, c = 0;
  ASSERT_EQ(ab_price(l, "gpt-4o", &u, &a), AB_OK);
  ASSERT_EQ(ab_price(l, "openai/gpt-4o", &u, &b), AB_OK);
  ASSERT_EQ(ab_price(l, "openrouter/google/gemini-3-pro-preview", &u, &c), AB_OK);
  EXPECT_EQ(a, usd("0.025"));
  EXPECT_EQ(b, a);
  EXPECT_GT(c, 0);
  EXPECT_EQ(ab_price(l, "acme-new-1", &u, &a), AB_ERR_UNKNOWN_MODEL);
  ab_ledger_close(l);
}
