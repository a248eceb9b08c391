// `agentbudgetctl replay` on the bundled real traces, through a live ledger.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "ledger.h"
#include "run_ops.h"
#include "test_ledger.h"
#include "trace.h"

using namespace abtest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kCtl = std::string(AB_BUILD_DIR) + "/tools/agentbudgetctl";
const std::string kTraces = std::string(AB_TEST_DATA_DIR) + "/traces";

json replay_json(const std::string& ledger, const std::string& args) {
  std::string out;
  int rc = run_command(kCtl + " --ledger " + ledger + " replay --json --traces " + kTraces + " " + args, &out);
  EXPECT_EQ(rc, 0) << out;
  return json::parse(out.substr(out.rfind("\n{") + 1));
}

// Independent count of runs, calls and recorded per-call cost, straight from
// the JSON lines (not through the trace loader under test).
struct Truth {
  size_t runs = 0, calls = 0;
  int64_t recorded_call_nanos = 0;
};
Truth read_truth() {
  Truth t;
  std::set<std::string> ids;
  for (auto& e : fs::recursive_directory_iterator(kTraces)) {
    if (e.path().filename() != "calls.jsonl") continue;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line);
      ids.insert(j["run_id"].get<std::string>());
      ++t.calls;
      if (!j["cost_usd"].is_null()) t.recorded_call_nanos += std::llround(j["cost_usd"].get<double>() * 1e9);
    }
  }
  t.runs = ids.size();
  return t;
}

}  // namespace

TEST(Replay, UnlimitedReplayChargesExactlyWhatProvidersBilled) {
  TestLedger t;
  Truth truth = read_truth();
  json s = replay_json(t.name(), "--workers 3");
  EXPECT_EQ(s["runs"].get<size_t>(), truth.runs);
  EXPECT_EQ(s["calls"].get<size_t>(), truth.calls);  // nothing stopped
  EXPECT_EQ(s["stopped_runs"].get<int>(), 0);
  EXPECT_EQ(s["errors"].get<int>(), 0);
  EXPECT_EQ(s["ledger_mismatches"].get<int>(), 0);
  // Every call that carries the provider's billed cost is charged exactly
  // that, to the nano-dollar (OpenRouter's usage.cost on 3,926 Gemini calls).
  EXPECT_EQ(s["recorded_calls_nanos"].get<int64_t>(), truth.recorded_call_nanos);
  EXPECT_EQ(s["charged_on_recorded_calls_nanos"].get<int64_t>(), truth.recorded_call_nanos);
  EXPECT_GT(s["charged_nanos"].get<int64_t>(), truth.recorded_call_nanos);
  // The one synthetic API-error message has an unknown model: fallback-priced.
  EXPECT_EQ(s["unpriced_calls"].get<int>(), 1);
}

TEST(Replay, BudgetStopsRunsAndOvershootIsReportedHonestly) {
  TestLedger t;
  json s = replay_json(t.name(), "--budget 1.00 --soft 0.50 --workers 2 --prefix budgeted");
  EXPECT_GT(s["stopped_runs"].get<int>(), 0);
  EXPECT_GT(s["avoided_usd"].get<double>(), 0.0);
  EXPECT_LT(s["calls"].get<size_t>(), s["calls_in_traces"].get<size_t>());
  // Charge mode admits on "budget left" and charges after the call, so the
  // last call of a stopped run may overshoot: the figure must match the ledger.
  ab::Ledger& l = t.daemon().ledger();
  int64_t max_over = 0;
  int closed = 0;
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    ab::RunStatus st;
    ab::status_of_slot(l, l.slots()[i], &st);
    if (st.state != ab::SlotState::kClosed) continue;
    ++closed;
    EXPECT_EQ(st.hard, usd("1.00"));
    max_over = std::max(max_over, st.spent - usd("1.00"));
    // A run over its limit made no call after the one that crossed it.
    EXPECT_LE(st.spent - st.soft[0], usd("1.00"));
  }
  EXPECT_EQ(closed, s["runs"].get<int>());
  EXPECT_GT(max_over, 0);
  EXPECT_NEAR(s["max_overshoot_usd"].get<double>(), double(max_over) / 1e9, 1e-9);
}

TEST(Replay, BadInputIsACleanError) {
  TestLedger t;
  std::string out;
  EXPECT_EQ(run_command(kCtl + " --ledger " + t.name() + " replay --traces /nonexistent", &out), 2);
  EXPECT_NE(out.find("not a directory"), std::string::npos) << out;
  EXPECT_EQ(run_command(kCtl + " --ledger " + t.name() + " replay --traces " + kTraces + " --budget -1", &out), 2);
  EXPECT_NE(out.find("not a non-negative USD amount"), std::string::npos) << out;
  EXPECT_EQ(run_command(kCtl + " --ledger abtest-no-such-ledger replay --traces " + kTraces, &out), 3);
  EXPECT_NE(out.find("no ledger"), std::string::npos) << out;
  fs::path dir = fs::temp_directory_path() / ("abtest-badtrace-" + std::to_string(getpid()));
  fs::create_directories(dir / "src");
  std::ofstream(dir / "src" / "calls.jsonl")
      << R"({"run_id":"a","seq":1,"model":"gpt-4o","raw_usage":{"prompt_tokens":10}})"
         "\n"
      << R"({"run_id":"a","seq":2,"model":"gpt-4o","raw_usage":{"prompt_tokens":-5}})"
         "\n";
  EXPECT_EQ(run_command(kCtl + " --ledger " + t.name() + " replay --traces " + dir.string(), &out), 2);
  EXPECT_NE(out.find("calls.jsonl:2: field prompt_tokens is negative"), std::string::npos) << out;
  fs::remove_all(dir);
}

TEST(Traces, UsageShapesAreReadAsProvidersReportThem) {
  ab::TraceCall c;
  std::string id, err;
  // OpenRouter: completion includes reasoning.
  ASSERT_TRUE(ab::parse_call_line(
      R"({"run_id":"r","seq":1,"model":"google/gemini-3-pro-preview","provider":"Google","raw_usage":{"prompt_tokens":2263,"completion_tokens":132,"prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":95}}})",
      &c, &id, &err))
      << err;
  EXPECT_EQ(c.usage.shape, ab::UsageShape::kOpenAI);
  EXPECT_EQ(c.usage.input, 2263u);
  EXPECT_EQ(c.usage.cached, 100u);
  EXPECT_FALSE(c.usage.reasoning_separate);
  // Google's own endpoint (via Portkey): reasoning outside completion_tokens.
  ASSERT_TRUE(ab::parse_call_line(
      R"({"run_id":"r","seq":1,"model":"gemini-3-pro-preview","provider":"google","raw_usage":{"prompt_tokens":2345,"completion_tokens":40,"completion_tokens_details":{"reasoning_tokens":193}}})",
      &c, &id, &err));
  EXPECT_TRUE(c.usage.reasoning_separate);
  // Anthropic: cache reads and writes apart from input.
  ASSERT_TRUE(ab::parse_call_line(
      R"({"run_id":"r","seq":1,"model":"claude-opus-4-5-20251101","raw_usage":{"input_tokens":1,"cache_creation_input_tokens":8247,"cache_read_input_tokens":14894,"cache_creation":{"ephemeral_5m_input_tokens":8000,"ephemeral_1h_input_tokens":247},"output_tokens":140}})",
      &c, &id, &err));
  EXPECT_EQ(c.usage.shape, ab::UsageShape::kAnthropic);
  EXPECT_EQ(c.usage.cache_write_5m, 8000u);
  EXPECT_EQ(c.usage.cache_write_1h, 247u);
  EXPECT_EQ(c.usage.cached, 14894u);
  EXPECT_FALSE(ab::parse_call_line("{not json", &c, &id, &err));
  EXPECT_FALSE(ab::parse_call_line(R"({"run_id":"r","model":"m","raw_usage":{}})", &c, &id, &err));
  EXPECT_NE(err.find("neither"), std::string::npos);
}

// Reserve mode: each call reserves its worst case (the model's maximum
// output) before it is made, so no run ends past its budget.
TEST(Replay, ReserveModeNeverOvershoots) {
  TestLedger t;
  json s = replay_json(t.name(), "--mode reserve --budget 1.00 --workers 2 --prefix reserved");
  EXPECT_EQ(s["mode"], "reserve");
  EXPECT_EQ(s["max_overshoot_usd"].get<double>(), 0.0);
  EXPECT_GT(s["stopped_runs"].get<int>(), 0);
  EXPECT_EQ(s["stopped_by"]["run_hard_limit"].get<int>(), s["stopped_runs"].get<int>());
  EXPECT_EQ(s["ledger_mismatches"].get<int>(), 0);
  EXPECT_EQ(s["errors"].get<int>(), 0);
  ab::Ledger& l = t.daemon().ledger();
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    ab::RunStatus st;
    ab::status_of_slot(l, l.slots()[i], &st);
    if (st.state != ab::SlotState::kClosed) continue;
    EXPECT_LE(st.spent, usd("1.00"));
    EXPECT_EQ(st.held, 0);
    EXPECT_EQ(st.in_flight, 0u);
  }
}

// Reserve mode with no budget makes every call, the unknown <synthetic>
// model included (estimated at the fallback rate), and charges as much.
TEST(Replay, ReserveModeWithoutBudgetMakesEveryCall) {
  TestLedger t;
  json s = replay_json(t.name(), "--mode reserve --workers 2 --prefix reserve-all");
  EXPECT_EQ(s["errors"].get<int>(), 0);
  EXPECT_EQ(s["stopped_runs"].get<int>(), 0);
  EXPECT_EQ(s["calls"].get<size_t>(), s["calls_in_traces"].get<size_t>());
  EXPECT_EQ(s["charged_on_recorded_calls_nanos"].get<int64_t>(), s["recorded_calls_nanos"].get<int64_t>());
}
