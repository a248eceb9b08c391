// Price engine: usage normalisation, per-call pricing, tiers, and the
// LiteLLM table loader on the bundled real table (scenarios S10-S12 and the
// "Reference charges for the price engine" table).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "model_price.h"
#include "money.h"
#include "price_table.h"
#include "usage.h"

namespace ab {
namespace {

// "$X per 1M tokens" -> femto-USD per token, exactly (1e15 / 1e6 = 1e9).
Femtos per_m(const char* usd_per_million) {
  const auto f = parse_decimal_scaled(usd_per_million, 9);
  EXPECT_TRUE(f.has_value()) << usd_per_million;
  return f.value_or(-1);
}

Nanos usd(const char* text) {
  const auto n = parse_usd(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(-1);
}

PriceTier tier(uint64_t above, Femtos in, Femtos out) {
  return PriceTier{above, in, out, kPriceUnset, kPriceUnset, kPriceUnset, kPriceUnset};
}

ModelPrice model(std::initializer_list<PriceTier> tiers) {
  ModelPrice m;
  std::memset(&m, 0, sizeof m);
  std::strcpy(m.name, "hand-built");
  m.name_len = static_cast<uint32_t>(std::strlen(m.name));
  for (const PriceTier& t : tiers) m.tiers[m.tier_count++] = t;
  return m;
}

Usage openai(uint64_t prompt, uint64_t cached, uint64_t completion, uint64_t reasoning = 0) {
  ReportedUsage r;
  r.shape = UsageShape::kOpenAI;
  r.input = prompt;
  r.cached = cached;
  r.output = completion;
  r.reasoning = reasoning;
  Usage u;
  EXPECT_EQ(normalise(r, &u), UsageError::kNone);
  return u;
}

Usage anthropic(uint64_t input, uint64_t cache_read, uint64_t write_5m, uint64_t output, uint64_t write_1h = 0) {
  ReportedUsage r;
  r.shape = UsageShape::kAnthropic;
  r.input = input;
  r.cached = cache_read;
  r.cache_write_5m = write_5m;
  r.cache_write_1h = write_1h;
  r.output = output;
  Usage u;
  EXPECT_EQ(normalise(r, &u), UsageError::kNone);
  return u;
}

Nanos cost(const ModelPrice& m, const Usage& u) {
  int64_t n = -1;
  EXPECT_TRUE(price_call(m, u, &n));
  return n;
}

// ---- Reference charges (scenarios.md) ----

TEST(ReferenceCharges, CachedPromptOpenAIShape) {
  ModelPrice m = model({tier(0, per_m("2.50"), per_m("10"))});
  m.tiers[0].cache_read = per_m("1.25");
  EXPECT_EQ(cost(m, openai(2'006, 1'920, 300)), usd("0.005615"));
}

TEST(ReferenceCharges, ReasoningBilledAsOutput) {
  const ModelPrice m = model({tier(0, per_m("30"), per_m("180"))});
  const Usage u = openai(14'746, 0, 1'944, 1'360);
  EXPECT_EQ(u.output, 584u);
  EXPECT_EQ(u.reasoning, 1'360u);
  EXPECT_EQ(cost(m, u), usd("0.792300"));
}

TEST(ReferenceCharges, LongContextTierRepricesWholeRequest) {
  const ModelPrice m = model({tier(0, per_m("3"), per_m("15")), tier(200'000, per_m("6"), per_m("22.50"))});
  EXPECT_EQ(cost(m, openai(250'000, 0, 2'000)), usd("1.545"));
  EXPECT_EQ(cost(m, openai(199'999, 0, 2'000)), usd("0.629997"));
}

TEST(ReferenceCharges, SecondTieredModel) {
  const ModelPrice m = model({tier(0, per_m("1.25"), per_m("10")), tier(200'000, per_m("2.50"), per_m("15"))});
  EXPECT_EQ(cost(m, openai(150'000, 0, 1'000)), usd("0.1975"));
  EXPECT_EQ(cost(m, openai(250'000, 0, 1'000)), usd("0.640"));
}

// ---- Scenarios ----

TEST(Scenarios, S10TokensDecideThePrice) {
  const ModelPrice m = model({tier(0, per_m("3"), per_m("15"))});
  const Nanos each = cost(m, openai(100'000, 0, 0));
  EXPECT_EQ(each, usd("0.30"));
  // Three fit under a $1.00 hard limit, a fourth does not.
  EXPECT_LE(3 * each, usd("1.00"));
  EXPECT_GT(4 * each, usd("1.00"));
}

TEST(Scenarios, S11CachedInputNotBilledTwice) {
  ModelPrice m = model({tier(0, per_m("1.25"), per_m("10"))});
  m.tiers[0].cache_read = per_m("0.125");
  EXPECT_EQ(cost(m, openai(100'000, 80'000, 1'000)), usd("0.045"));
}

TEST(Scenarios, S12CacheWritesNotBilledTwice) {
  ModelPrice m = model({tier(0, per_m("3"), per_m("15"))});
  m.tiers[0].cache_write_5m = per_m("3.75");
  EXPECT_EQ(cost(m, anthropic(3, 0, 12'304, 550)), usd("0.054399"));
}

// ---- Pricing rules ----

TEST(PriceCall, ReasoningPricedApartWhenSet) {
  ModelPrice m = model({tier(0, per_m("1"), per_m("10"))});
  const Usage u = openai(0, 0, 1'000, 600);  // 400 visible + 600 reasoning
  EXPECT_EQ(cost(m, u), usd("0.010"));       // reasoning at the output rate
  m.tiers[0].reasoning = per_m("30");
  EXPECT_EQ(cost(m, u), usd("0.022"));  // 400 * $10/M + 600 * $30/M

  ReportedUsage separate;
  separate.output = 400;
  separate.reasoning = 600;
  separate.reasoning_separate = true;
  Usage v;
  ASSERT_EQ(normalise(separate, &v), UsageError::kNone);
  EXPECT_EQ(cost(m, v), usd("0.022"));
}

TEST(PriceCall, TierBoundaryIsStrict) {
  const ModelPrice m = model({tier(0, per_m("3"), per_m("15")), tier(200'000, per_m("6"), per_m("22.50"))});
  EXPECT_EQ(select_tier(m, 200'000).above_prompt_tokens, 0u);
  EXPECT_EQ(select_tier(m, 200'001).above_prompt_tokens, 200'000u);
  EXPECT_EQ(cost(m, openai(200'000, 0, 0)), usd("0.60"));
  EXPECT_EQ(cost(m, openai(200'001, 0, 0)), usd("1.200006"));
  // The tier is chosen on all prompt tokens, cached ones included.
  EXPECT_EQ(select_tier(m, openai(200'001, 150'000, 0).prompt_total()).above_prompt_tokens, 200'000u);
  EXPECT_EQ(select_tier(m, anthropic(1, 150'000, 50'000, 0).prompt_total()).above_prompt_tokens, 200'000u);
}

TEST(PriceCall, SelectsHighestExceededOfSeveralTiers) {
  const ModelPrice m = model({tier(0, 1, 1), tier(32'000, 2, 2), tier(128'000, 3, 3), tier(256'000, 4, 4)});
  EXPECT_EQ(select_tier(m, 0).input, 1);
  EXPECT_EQ(select_tier(m, 32'000).input, 1);
  EXPECT_EQ(select_tier(m, 32'001).input, 2);
  EXPECT_EQ(select_tier(m, 200'000).input, 3);
  EXPECT_EQ(select_tier(m, 10'000'000).input, 4);
}

TEST(PriceCall, UnsetPricesFallBack) {
  ModelPrice m = model({tier(0, per_m("2"), per_m("8"))});
  // cache read, 5m and 1h writes all at input when unset.
  EXPECT_EQ(cost(m, anthropic(1'000, 1'000, 1'000, 0, 1'000)), usd("0.008"));
  m.tiers[0].cache_write_5m = per_m("4");  // 1h falls back to the 5m price
  EXPECT_EQ(cost(m, anthropic(0, 0, 1'000, 0, 1'000)), usd("0.008"));
  m.tiers[0].cache_write_1h = per_m("6");
  m.tiers[0].cache_read = per_m("0.5");
  EXPECT_EQ(cost(m, anthropic(0, 1'000, 1'000, 0, 1'000)), usd("0.0105"));
}

TEST(PriceCall, PerRequestFeeAndRoundingHalfUp) {
  ModelPrice m = model({tier(0, 0, 500'000)});  // half a nano per output token
  EXPECT_EQ(cost(m, openai(0, 0, 1)), 1);       // 0.5 nano rounds up
  m.tiers[0].output = 499'999;
  EXPECT_EQ(cost(m, openai(0, 0, 1)), 0);
  EXPECT_EQ(cost(m, openai(0, 0, 3)), 1);  // 1.499997 nanos: rounded once per call
  m.per_request = 5'000'000'000'000;       // $0.005
  EXPECT_EQ(cost(m, openai(0, 0, 0)), usd("0.005"));
}

TEST(PriceCall, OverflowRefused) {
  const ModelPrice m = model({tier(0, per_m("1"), per_m("1"))});
  int64_t n = 42;
  Usage u;
  u.input = UINT64_MAX;  // ~1.8e10 USD: more nanos than int64 holds
  EXPECT_FALSE(price_call(m, u, &n));
  u.cache_read = 1;  // prompt total wraps
  EXPECT_FALSE(price_call(m, u, &n));
  const ModelPrice huge = model({tier(0, INT64_MAX, INT64_MAX)});
  Usage w;
  w.output = UINT64_MAX;
  w.reasoning = UINT64_MAX;  // 2 * 2^127 femtos: the 128-bit sum itself would wrap
  EXPECT_FALSE(price_call(huge, w, &n));
  EXPECT_EQ(n, 42);  // untouched on failure
  const ModelPrice corrupt = model({tier(0, -5, 1)});
  EXPECT_FALSE(price_call(corrupt, openai(10, 0, 0), &n));
  // Largest representable charge still prices.
  const ModelPrice one_nano = model({tier(0, kFemtosPerNano, 0)});
  Usage big;
  big.input = INT64_MAX;
  ASSERT_TRUE(price_call(one_nano, big, &n));
  EXPECT_EQ(n, INT64_MAX);
}

// ---- Normalisation ----

TEST(Normalise, OpenAIShapeSubtractsCacheFromPrompt) {
  ReportedUsage r;
  r.input = 1'000;
  r.cached = 300;
  r.cache_write_5m = 200;
  r.cache_write_1h = 100;
  r.output = 50;
  r.reasoning = 20;
  Usage u;
  ASSERT_EQ(normalise(r, &u), UsageError::kNone);
  EXPECT_EQ(u.input, 400u);
  EXPECT_EQ(u.cache_read, 300u);
  EXPECT_EQ(u.cache_write_5m, 200u);
  EXPECT_EQ(u.cache_write_1h, 100u);
  EXPECT_EQ(u.output, 30u);
  EXPECT_EQ(u.reasoning, 20u);
  EXPECT_EQ(u.prompt_total(), 1'000u);
  EXPECT_EQ(u.total(), 1'050u);
}

TEST(Normalise, AnthropicShapeKeepsInput) {
  const Usage u = anthropic(3, 100, 12'304, 550, 7);
  EXPECT_EQ(u.input, 3u);
  EXPECT_EQ(u.cache_read, 100u);
  EXPECT_EQ(u.cache_write_5m, 12'304u);
  EXPECT_EQ(u.cache_write_1h, 7u);
  EXPECT_EQ(u.output, 550u);
  EXPECT_EQ(u.prompt_total(), 12'414u);
}

TEST(Normalise, Refusals) {
  const Usage sentinel{1, 2, 3, 4, 5, 6};
  Usage u = sentinel;
  ReportedUsage r;
  r.input = 100;
  r.cached = 101;
  EXPECT_EQ(normalise(r, &u), UsageError::kCachedExceedsPrompt);
  r.cached = 60;
  r.cache_write_5m = 41;  // 60 + 41 > 100
  EXPECT_EQ(normalise(r, &u), UsageError::kCachedExceedsPrompt);
  r.cache_write_5m = 0;
  r.output = 10;
  r.reasoning = 11;
  EXPECT_EQ(normalise(r, &u), UsageError::kReasoningExceedsOutput);
  r.reasoning_separate = true;  // then reasoning > output is legitimate
  ASSERT_EQ(normalise(r, &u), UsageError::kNone);
  EXPECT_EQ(u.output, 10u);
  EXPECT_EQ(u.reasoning, 11u);

  u = sentinel;
  ReportedUsage o;
  o.cached = UINT64_MAX;
  o.cache_write_1h = 1;
  EXPECT_EQ(normalise(o, &u), UsageError::kOverflow);
  ReportedUsage a;
  a.shape = UsageShape::kAnthropic;
  a.input = UINT64_MAX;
  a.cached = 1;
  EXPECT_EQ(normalise(a, &u), UsageError::kOverflow);
  ReportedUsage s;
  s.output = UINT64_MAX;
  s.reasoning = 1;
  s.reasoning_separate = true;
  EXPECT_EQ(normalise(s, &u), UsageError::kOverflow);
  EXPECT_EQ(u.input, sentinel.input);  // untouched on refusal
  EXPECT_EQ(u.reasoning, sentinel.reasoning);
}

// ---- The bundled LiteLLM table ----

const ModelPrice* find(const PriceTableLoad& t, std::string_view name) {
  for (const ModelPrice& m : t.models)
    if (std::string_view(m.name, m.name_len) == name) return &m;
  return nullptr;
}

class RealTable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    table_ = new PriceTableLoad;
    std::string error;
    ok_ = load_litellm_prices(AB_TEST_DATA_DIR "/prices/litellm_model_prices_and_context_window.json", table_, &error);
    error_ = error;
  }
  static void TearDownTestSuite() { delete table_; }
  void SetUp() override { ASSERT_TRUE(ok_) << error_; }
  static inline PriceTableLoad* table_ = nullptr;
  static inline bool ok_ = false;
  static inline std::string error_;
};

TEST_F(RealTable, LoadsEveryTokenPricedModel) {
  EXPECT_GT(table_->models.size(), 2000u);
  EXPECT_EQ(table_->models.size() + table_->skipped.size(), 2985u);  // every top-level key accounted for
  bool sample = false, fallback = false, updated = false, dalle = false;
  for (const std::string& s : table_->skipped) {
    sample |= s.rfind("sample_spec: ", 0) == 0;
    fallback |= s.rfind("fallback_generalizations: ", 0) == 0;
    updated |= s.rfind("last_updated: ", 0) == 0;
    dalle |= s == "dall-e-3: no per-token price (mode image_generation)";
  }
  EXPECT_TRUE(sample && fallback && updated && dalle);
  for (size_t i = 1; i < table_->models.size(); ++i)
    EXPECT_LT(std::string_view(table_->models[i - 1].name), std::string_view(table_->models[i].name));
  EXPECT_EQ(default_price_table_path(), AB_DEFAULT_DATA_DIR "/prices/litellm_model_prices_and_context_window.json");
}

TEST_F(RealTable, Gpt4o) {
  const ModelPrice* m = find(*table_, "gpt-4o");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->tier_count, 1u);
  EXPECT_EQ(m->tiers[0].input, per_m("2.50"));
  EXPECT_EQ(m->tiers[0].output, per_m("10"));
  EXPECT_EQ(m->tiers[0].cache_read, per_m("1.25"));
  EXPECT_EQ(m->tiers[0].cache_write_5m, kPriceUnset);
  EXPECT_EQ(m->tiers[0].reasoning, kPriceUnset);
  EXPECT_EQ(m->max_input_tokens, 128'000u);
  EXPECT_EQ(m->max_output_tokens, 16'384u);
  EXPECT_EQ(m->per_request, 0);
  EXPECT_EQ(cost(*m, openai(2'006, 1'920, 300)), usd("0.005615"));  // reference row 1
}

TEST_F(RealTable, ClaudeSonnet45HasA200kTier) {
  const ModelPrice* m = find(*table_, "claude-sonnet-4-5-20250929");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->tier_count, 2u);
  const PriceTier& b = m->tiers[0];
  EXPECT_EQ(b.above_prompt_tokens, 0u);
  EXPECT_EQ(b.input, per_m("3"));
  EXPECT_EQ(b.output, per_m("15"));
  EXPECT_EQ(b.cache_read, per_m("0.30"));
  EXPECT_EQ(b.cache_write_5m, per_m("3.75"));
  EXPECT_EQ(b.cache_write_1h, per_m("6"));
  const PriceTier& t = m->tiers[1];
  EXPECT_EQ(t.above_prompt_tokens, 200'000u);
  EXPECT_EQ(t.input, per_m("6"));
  EXPECT_EQ(t.output, per_m("22.50"));
  EXPECT_EQ(t.cache_read, per_m("0.60"));
  EXPECT_EQ(t.cache_write_5m, per_m("7.50"));
  EXPECT_EQ(t.cache_write_1h, per_m("12"));
  EXPECT_EQ(m->max_output_tokens, 64'000u);
  // Reference rows 3 and 4, and S12, on the real prices.
  EXPECT_EQ(cost(*m, anthropic(250'000, 0, 0, 2'000)), usd("1.545"));
  EXPECT_EQ(cost(*m, anthropic(199'999, 0, 0, 2'000)), usd("0.629997"));
  EXPECT_EQ(cost(*m, anthropic(3, 0, 12'304, 550)), usd("0.054399"));
}

TEST_F(RealTable, Gemini3ProPreview) {
  const ModelPrice* m = find(*table_, "gemini-3-pro-preview");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->tier_count, 2u);
  EXPECT_EQ(m->tiers[0].input, per_m("2"));  // not the _priority or _batches rate
  EXPECT_EQ(m->tiers[0].output, per_m("12"));
  EXPECT_EQ(m->tiers[0].cache_read, per_m("0.20"));
  EXPECT_EQ(m->tiers[0].cache_write_5m, kPriceUnset);
  EXPECT_EQ(m->tiers[1].above_prompt_tokens, 200'000u);
  EXPECT_EQ(m->tiers[1].input, per_m("4"));
  EXPECT_EQ(m->tiers[1].output, per_m("18"));
  EXPECT_EQ(m->tiers[1].cache_read, per_m("0.40"));
  EXPECT_EQ(m->tiers[1].cache_write_5m, per_m("0.25"));
  EXPECT_EQ(m->max_output_tokens, 65'535u);
  EXPECT_EQ(m->max_input_tokens, 1'048'576u);
  // First call of the Gemini trace: OpenRouter billed $0.00611.
  EXPECT_EQ(cost(*m, openai(2'263, 0, 132, 95)), usd("0.00611"));

  const ModelPrice* pro25 = find(*table_, "gemini-2.5-pro");  // reference rows 5 and 6
  ASSERT_NE(pro25, nullptr);
  EXPECT_EQ(cost(*pro25, openai(150'000, 0, 1'000)), usd("0.1975"));
  EXPECT_EQ(cost(*pro25, openai(250'000, 0, 1'000)), usd("0.640"));
}

TEST_F(RealTable, DashscopeTieredPricing) {
  const ModelPrice* m = find(*table_, "dashscope/qwen-flash");
  ASSERT_NE(m, nullptr);  // no top-level price: the range [0, ...] entry is the base
  ASSERT_EQ(m->tier_count, 2u);
  EXPECT_EQ(m->tiers[0].above_prompt_tokens, 0u);
  EXPECT_EQ(m->tiers[0].input, per_m("0.05"));
  EXPECT_EQ(m->tiers[0].output, per_m("0.40"));
  EXPECT_EQ(m->tiers[1].above_prompt_tokens, 256'000u);
  EXPECT_EQ(m->tiers[1].input, per_m("0.25"));
  EXPECT_EQ(m->tiers[1].output, per_m("2"));
  EXPECT_EQ(cost(*m, openai(256'000, 0, 1'000)), usd("0.0132"));
  EXPECT_EQ(cost(*m, openai(256'001, 0, 1'000)), usd("0.06600025"));

  const ModelPrice* coder = find(*table_, "dashscope/qwen3-coder-plus");
  ASSERT_NE(coder, nullptr);
  ASSERT_EQ(coder->tier_count, 4u);
  EXPECT_EQ(coder->tiers[1].above_prompt_tokens, 32'000u);
  EXPECT_EQ(coder->tiers[2].above_prompt_tokens, 128'000u);
  EXPECT_EQ(coder->tiers[3].above_prompt_tokens, 256'000u);
  EXPECT_EQ(coder->tiers[3].output, per_m("60"));
  EXPECT_EQ(coder->tiers[3].cache_read, per_m("0.60"));

  const ModelPrice* plus = find(*table_, "dashscope/qwen-plus-latest");
  ASSERT_NE(plus, nullptr);
  EXPECT_EQ(plus->tiers[0].reasoning, per_m("4"));
  EXPECT_EQ(plus->tiers[1].reasoning, per_m("12"));
}

TEST_F(RealTable, OtherFieldNames) {
  const ModelPrice* pplx = find(*table_, "perplexity/pplx-70b-online");
  ASSERT_NE(pplx, nullptr);
  EXPECT_EQ(pplx->per_request, 5'000'000'000'000);  // $0.005 per request
  EXPECT_EQ(cost(*pplx, openai(1'000, 0, 0)), usd("0.005"));
  const ModelPrice* ds = find(*table_, "deepseek/deepseek-chat");
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(ds->tiers[0].cache_read, per_m("0.028"));
  EXPECT_EQ(ds->tiers[0].cache_write_5m, 0);
  const ModelPrice* flash = find(*table_, "gemini-2.5-flash");
  ASSERT_NE(flash, nullptr);
  EXPECT_EQ(flash->tiers[0].reasoning, per_m("2.50"));
  const ModelPrice* gpt5 = find(*table_, "gpt-5.4-pro");
  ASSERT_NE(gpt5, nullptr);
  ASSERT_EQ(gpt5->tier_count, 2u);
  EXPECT_EQ(gpt5->tiers[1].above_prompt_tokens, 272'000u);
  EXPECT_EQ(gpt5->tiers[1].output, per_m("270"));
}

// ---- Loader errors and rules on small documents ----

TEST(PriceTableParse, MalformedDocumentsGiveClearErrors) {
  PriceTableLoad t;
  std::string error;
  EXPECT_FALSE(parse_litellm_prices(R"({"gpt-4o": {"input_cost_per_token": 2.5e-06,)", &t, &error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
  EXPECT_FALSE(parse_litellm_prices("[1, 2]", &t, &error));
  EXPECT_NE(error.find("not a JSON object"), std::string::npos) << error;
  // A number too large for a double is an error, not an exception (found
  // by the price_table fuzz target: it aborted the daemon).
  EXPECT_FALSE(parse_litellm_prices(R"({"m": {"max_tokens": 3.6e406}})", &t, &error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;

  EXPECT_FALSE(parse_litellm_prices(R"({"ok": {"input_cost_per_token": 1e-06},
                                        "bad-model": {"input_cost_per_token": -1e-06}})",
                                    &t, &error));
  EXPECT_EQ(error, "price table: model \"bad-model\", field \"input_cost_per_token\": negative price -1e-06");
  EXPECT_TRUE(t.models.empty());  // nothing half-loaded

  EXPECT_FALSE(parse_litellm_prices(R"({"m": {"output_cost_per_token": "1e-06"}})", &t, &error));
  EXPECT_NE(error.find("\"m\", field \"output_cost_per_token\": not a number"), std::string::npos) << error;
  EXPECT_FALSE(parse_litellm_prices(R"({"m": {"input_cost_per_token": 3}})", &t, &error));
  EXPECT_NE(error.find("absurd"), std::string::npos) << error;
  EXPECT_FALSE(parse_litellm_prices(R"({"m": {"input_cost_per_token": 1e-6, "max_tokens": -5}})", &t, &error));
  EXPECT_NE(error.find("max_tokens"), std::string::npos) << error;
  EXPECT_FALSE(parse_litellm_prices(
      R"({"m": {"input_cost_per_token": 1e-6, "cache_read_input_token_cost_above_200k_tokens": true}})", &t, &error));
  EXPECT_NE(error.find("cache_read_input_token_cost_above_200k_tokens"), std::string::npos) << error;

  EXPECT_FALSE(load_litellm_prices("/nonexistent/prices.json", &t, &error));
  EXPECT_NE(error.find("/nonexistent/prices.json"), std::string::npos) << error;
}

TEST(PriceTableParse, TiersInheritAndSkipsAreListed) {
  const std::string long_name(kModelNameMax + 1, 'x');
  const std::string doc = R"({
    "m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
          "cache_read_input_token_cost": 1e-07, "cache_creation_input_token_cost": 1.25e-06,
          "input_cost_per_token_above_128k_tokens": 3e-06,
          "output_cost_per_token_above_272k_tokens": 5e-06,
          "output_cost_per_token_above_272k_tokens_priority": 9e-06,
          "input_cost_per_token_batches": 5e-07, "input_cost_per_token_flex": 5e-07,
          "input_cost_per_character_above_128k_tokens": 1.0},
    "t": {"input_cost_per_token": 9e-06, "tiered_pricing": [
          {"range": [0, 1000.0], "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
          {"range": [1000.0, 2000.0], "input_cost_per_token": 3e-06}]},
    "img": {"input_cost_per_image": 0.04, "mode": "image_generation"},
    "five": {"input_cost_per_token": 1e-06, "input_cost_per_token_above_1k_tokens": 2e-06,
             "input_cost_per_token_above_2k_tokens": 3e-06, "input_cost_per_token_above_3k_tokens": 4e-06,
             "input_cost_per_token_above_4k_tokens": 5e-06},
    ")" + long_name + R"(": {"input_cost_per_token": 1e-06},
    "last_updated": "2026-07-24",
    "sample_spec": {"input_cost_per_token": 0.0, "max_tokens": "LEGACY"}
  })";
  PriceTableLoad t;
  std::string error;
  ASSERT_TRUE(parse_litellm_prices(doc, &t, &error)) << error;
  ASSERT_EQ(t.models.size(), 2u);
  const ModelPrice* m = find(t, "m");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->tier_count, 3u);
  EXPECT_EQ(m->tiers[0].input, per_m("1"));
  EXPECT_EQ(m->tiers[1].above_prompt_tokens, 128'000u);
  EXPECT_EQ(m->tiers[1].input, per_m("3"));
  EXPECT_EQ(m->tiers[1].output, per_m("2"));        // inherited from base
  EXPECT_EQ(m->tiers[1].cache_read, per_m("0.1"));  // inherited from base
  EXPECT_EQ(m->tiers[1].cache_write_5m, per_m("1.25"));
  EXPECT_EQ(m->tiers[2].above_prompt_tokens, 272'000u);
  EXPECT_EQ(m->tiers[2].input, per_m("1"));   // from base, not from the 128k tier
  EXPECT_EQ(m->tiers[2].output, per_m("5"));  // not the _priority rate

  const ModelPrice* tp = find(t, "t");
  ASSERT_NE(tp, nullptr);
  ASSERT_EQ(tp->tier_count, 2u);
  EXPECT_EQ(tp->tiers[0].input, per_m("1"));  // range lo 0 replaces the top-level price
  EXPECT_EQ(tp->tiers[1].above_prompt_tokens, 1'000u);
  EXPECT_EQ(tp->tiers[1].input, per_m("3"));
  EXPECT_EQ(tp->tiers[1].output, per_m("2"));

  ASSERT_EQ(t.skipped.size(), 5u);
  EXPECT_EQ(t.skipped[0], "five: 5 price tiers, at most 4");
  EXPECT_EQ(t.skipped[1], "img: no per-token price (mode image_generation)");
  EXPECT_EQ(t.skipped[2], "last_updated: not a model entry");
  EXPECT_EQ(t.skipped[3], "sample_spec: not a model entry");
  EXPECT_EQ(t.skipped[4], long_name + ": name empty or longer than 127 bytes");
}

}  // namespace
}  // namespace ab
