// The price engine against money that was really billed: every Gemini 3 Pro
// call of the mini-SWE-agent trace (OpenRouter's per-call usage.cost) and
// every (run, model) aggregate of the Claude Code trace (Claude Code's own
// costUSD), priced from tokens with the bundled LiteLLM table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "model_price.h"
#include "price_table.h"
#include "usage.h"

namespace ab {
namespace {

using nlohmann::json;

constexpr int64_t kTolerance = 1'000;  // $1e-6 in nanos

const ModelPrice* find(const PriceTableLoad& t, std::string_view name) {
  for (const ModelPrice& m : t.models)
    if (std::string_view(m.name, m.name_len) == name) return &m;
  return nullptr;
}

PriceTableLoad load_table() {
  PriceTableLoad t;
  std::string error;
  EXPECT_TRUE(load_litellm_prices(AB_TEST_DATA_DIR "/prices/litellm_model_prices_and_context_window.json", &t, &error))
      << error;
  return t;
}

uint64_t count(const json& v) { return v.is_null() ? 0 : v.get<uint64_t>(); }

TEST(TracePrices, Gemini3ProCallsMatchOpenRouterCost) {
  const std::string path = AB_TEST_DATA_DIR "/traces/mini_swe_agent_gemini3pro/calls.jsonl";

  // Independent count of the calls that carry a cost, by plain text.
  size_t lines_with_cost = 0;
  {
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line.find("\"cost_usd\":null") == std::string::npos) ++lines_with_cost;
  }

  const PriceTableLoad table = load_table();
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  size_t checked = 0, exact = 0;
  int64_t max_diff = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const json call = json::parse(line);
    if (call["cost_usd"].is_null()) continue;

    // "google/gemini-3-pro-preview" is table key "gemini-3-pro-preview".
    std::string name = call["model"].get<std::string>();
    if (name.rfind("google/", 0) == 0) name.erase(0, 7);
    const ModelPrice* m = find(table, name);
    ASSERT_NE(m, nullptr) << name;

    const json& raw = call["raw_usage"];
    ReportedUsage r;
    r.shape = UsageShape::kOpenAI;
    r.input = count(raw["prompt_tokens"]);
    r.cached = count(raw["prompt_tokens_details"]["cached_tokens"]);
    r.output = count(raw["completion_tokens"]);
    r.reasoning = count(raw["completion_tokens_details"]["reasoning_tokens"]);
    Usage u;
    ASSERT_EQ(normalise(r, &u), UsageError::kNone) << line;
    int64_t ours = 0;
    ASSERT_TRUE(price_call(*m, u, &ours));

    const int64_t recorded = std::llround(call["cost_usd"].get<double>() * 1e9);
    const int64_t diff = std::llabs(ours - recorded);
    EXPECT_LE(diff, kTolerance) << call["run_id"] << " seq " << call["seq"] << ": ours " << ours << " recorded "
                                << recorded;
    if (diff == 0) ++exact;
    if (diff > max_diff) max_diff = diff;
    ++checked;
  }
  EXPECT_EQ(checked, lines_with_cost);
  EXPECT_GT(checked, 3'900u);
  std::cout << "gemini-3-pro-preview: " << checked << " calls checked, " << exact
            << " match to the nano, max difference " << max_diff << " nanos\n";
  RecordProperty("calls_checked", static_cast<int>(checked));
  RecordProperty("exact_nano_matches", static_cast<int>(exact));
  RecordProperty("max_diff_nanos", static_cast<int>(max_diff));
}

TEST(TracePrices, ClaudeCodeModelUsageMatchesCostUsd) {
  const PriceTableLoad table = load_table();
  const std::string path = AB_TEST_DATA_DIR "/traces/claude_code_headless/runs.jsonl";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  size_t checked = 0, sums_above_tier = 0;
  int64_t max_diff = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const json run = json::parse(line);
    if (run["model_usage"].is_null()) continue;
    for (const auto& [model, mu] : run["model_usage"].items()) {
      const ModelPrice* found = find(table, model);
      if (found == nullptr) continue;
      // These are sums over many calls, each far below 200k prompt tokens
      // (the largest visible call has 58k), so each was billed at the base
      // rate; a sum can exceed 200k and must not select the long-context tier.
      ModelPrice base_only = *found;
      base_only.tier_count = 1;
      const ModelPrice* m = &base_only;
      ReportedUsage r;
      r.shape = UsageShape::kAnthropic;
      r.input = count(mu["input_tokens"]);
      r.cached = count(mu["cache_read_tokens"]);
      r.cache_write_5m = count(mu["cache_creation_tokens"]);  // all 5-minute writes here
      r.output = count(mu["output_tokens"]);
      Usage u;
      ASSERT_EQ(normalise(r, &u), UsageError::kNone);
      if (&select_tier(*found, u.prompt_total()) != &found->tiers[0]) ++sums_above_tier;
      int64_t ours = 0;
      ASSERT_TRUE(price_call(*m, u, &ours));
      const int64_t recorded = std::llround(mu["cost_usd"].get<double>() * 1e9);
      const int64_t diff = std::llabs(ours - recorded);
      EXPECT_LE(diff, kTolerance) << run["run_id"] << " " << model << ": ours " << ours << " recorded " << recorded;
      if (diff > max_diff) max_diff = diff;
      ++checked;
    }
  }
  EXPECT_GE(checked, 81u);
  std::cout << "claude code: " << checked << " (run, model) pairs checked, max difference " << max_diff << " nanos; "
            << sums_above_tier << " sums exceed a long-context tier threshold\n";
  RecordProperty("pairs_checked", static_cast<int>(checked));
}

}  // namespace
}  // namespace ab
