// Bad input at every C entry point: a clear error code, and nothing changes.
#include <gtest/gtest.h>

#include <string>

#include "test_ledger.h"

using namespace abtest;

class BadInput : public ::testing::Test {
 protected:
  TestLedger t;
  ab_ledger* l = nullptr;
  ab_run* r = nullptr;
  void SetUp() override {
    l = t.open();
    ASSERT_EQ(ab_run_begin(l, "good-run", nullptr, &r), AB_OK);
    ASSERT_EQ(ab_charge(r, 500, nullptr), AB_OK);
  }
  void TearDown() override {
    ab_run_status st;
    st.struct_size = sizeof st;
    ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
    EXPECT_EQ(st.spent_nanos, 500);  // unchanged by every bad call
    EXPECT_EQ(st.calls, 1u);
    ab_run_detach(r);
    ab_ledger_close(l);
  }
};

TEST_F(BadInput, NullPointers) {
  ab_usage u = AB_USAGE_INIT;
  ab_run* out = nullptr;
  int64_t n = 0;
  EXPECT_EQ(ab_ledger_open(t.name().c_str(), nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_begin(nullptr, "x", nullptr, &out), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_begin(l, nullptr, nullptr, &out), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_begin(l, "x", nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_charge(nullptr, 1, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_charge_usage(nullptr, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_charge_usage(r, nullptr, &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_charge_usage(r, "gpt-4o", nullptr, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_price(nullptr, "gpt-4o", &u, &n), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_price(l, "gpt-4o", &u, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_admit(nullptr, 0, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_status_get(nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_status_get(r, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_end(nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_usd_parse(nullptr, &n), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_usd_parse("1", nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_usd_from_double(1.0, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_run_created(nullptr), 0);
  ab_run_detach(nullptr);
  ab_ledger_close(nullptr);
}

TEST_F(BadInput, RunIds) {
  ab_run* out = nullptr;
  std::string overlong(128, 'a');
  EXPECT_EQ(ab_run_begin(l, "", nullptr, &out), AB_ERR_INVALID_RUN_ID);
  EXPECT_EQ(ab_run_begin(l, overlong.c_str(), nullptr, &out), AB_ERR_INVALID_RUN_ID);
  EXPECT_EQ(ab_run_begin(l, "has space", nullptr, &out), AB_ERR_INVALID_RUN_ID);
  EXPECT_EQ(ab_run_begin(l, "tab\there", nullptr, &out), AB_ERR_INVALID_RUN_ID);
  EXPECT_EQ(ab_run_begin(l, "caf\xc3\xa9", nullptr, &out), AB_ERR_INVALID_RUN_ID);
  EXPECT_EQ(out, nullptr);
  std::string longest(127, 'b');
  ASSERT_EQ(ab_run_begin(l, longest.c_str(), nullptr, &out), AB_OK);
  ab_run_detach(out);
}

TEST_F(BadInput, Amounts) {
  EXPECT_EQ(ab_charge(r, -1, nullptr), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_charge(r, INT64_MAX, nullptr), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_charge(r, 1'000'000'000'000'001, nullptr), AB_ERR_INVALID_AMOUNT);  // > $1M
  EXPECT_EQ(ab_admit(r, -5, nullptr), AB_ERR_INVALID_AMOUNT);
  EXPECT_EQ(ab_admit(r, INT64_MAX, nullptr), AB_ERR_INVALID_AMOUNT);
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.hard_nanos = INT64_MAX - 1;
  ab_run* out = nullptr;
  EXPECT_EQ(ab_run_begin(l, "amount-run", &o, &out), AB_ERR_INVALID_AMOUNT);
  o.hard_nanos = AB_NO_LIMIT;  // documented: a limit that never binds
  ASSERT_EQ(ab_run_begin(l, "amount-run", &o, &out), AB_OK);
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(out, &st), AB_OK);
  EXPECT_EQ(st.hard_nanos, AB_NO_LIMIT);
  ab_run_detach(out);
}

TEST_F(BadInput, StructsAndFlags) {
  ab_run* out = nullptr;
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.struct_size = 8;
  EXPECT_EQ(ab_run_begin(l, "x", &o, &out), AB_ERR_INVALID_ARGUMENT);
  o = AB_BEGIN_OPTIONS_INIT;
  o.flags = 0x80;
  EXPECT_EQ(ab_run_begin(l, "x", &o, &out), AB_ERR_INVALID_ARGUMENT);
  ab_usage u = AB_USAGE_INIT;
  u.struct_size = 4;
  EXPECT_EQ(ab_charge_usage(r, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  u = AB_USAGE_INIT;
  u.shape = 7;
  EXPECT_EQ(ab_charge_usage(r, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  u = AB_USAGE_INIT;
  u.flags = 0x100;
  EXPECT_EQ(ab_charge_usage(r, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  u = AB_USAGE_INIT;
  u.output_tokens = 10;
  u.reasoning_tokens = 20;  // said to be included in output, yet larger
  EXPECT_EQ(ab_charge_usage(r, "gpt-4o", &u, nullptr, nullptr), AB_ERR_INVALID_USAGE);
  ab_run_status st;
  st.struct_size = 16;
  EXPECT_EQ(ab_run_status_get(r, &st), AB_ERR_INVALID_ARGUMENT);
}

TEST_F(BadInput, ModelNamesAndLedgerNames) {
  ab_usage u = AB_USAGE_INIT;
  u.input_tokens = 10;
  std::string huge(4096, 'm');
  EXPECT_EQ(ab_charge_usage(r, "", &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_charge_usage(r, huge.c_str(), &u, nullptr, nullptr), AB_ERR_INVALID_ARGUMENT);
  ab_ledger* other = nullptr;
  EXPECT_EQ(ab_ledger_open("../etc/passwd", &other), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ab_ledger_open("bad name", &other), AB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(other, nullptr);
}

TEST(ErrorNames, EveryCodeHasANameAndMessage) {
  for (int c = -18; c <= 1; ++c) {
    EXPECT_STRNE(ab_status_name(c), "AB_ERR_UNKNOWN") << c;
    EXPECT_STRNE(ab_strerror(c), "unknown status code") << c;
  }
  EXPECT_STREQ(ab_status_name(-999), "AB_ERR_UNKNOWN");
  for (int reason = 0; reason <= 10; ++reason) EXPECT_STRNE(ab_reason_name(reason), "unknown");
  EXPECT_STREQ(ab_version_string(), "0.2.0");
  EXPECT_EQ(ab_version_number(), uint32_t(AB_VERSION_NUMBER));
}
