// The loop guard on real agent step sequences: SWE-agent runs that repeated
// one command 5 to 53 times in a row are stopped at the call that makes the
// limit-th repeat; mini-SWE-agent runs that page through a file with
// changing line numbers are not stopped.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "test_ledger.h"

using namespace abtest;
using nlohmann::json;

namespace {

struct Steps {
  std::vector<std::string> order;                       // run ids in file order
  std::map<std::string, std::vector<std::string>> sha;  // run id -> action hashes in call order
  std::map<std::string, int> max_identical;             // from runs.jsonl, computed by the data's authors
  std::map<std::string, int> max_near_identical;
};

Steps load(const std::string& dir, const char* file) {
  Steps s;
  std::ifstream in(std::string(AB_TEST_DATA_DIR) + "/traces/" + dir + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    std::string id = j["run_id"];
    if (!s.sha.count(id)) s.order.push_back(id);
    s.sha[id].push_back(j["action_sha1"].is_string() ? j["action_sha1"].get<std::string>() : "");
  }
  std::ifstream runs(std::string(AB_TEST_DATA_DIR) + "/traces/" + dir + "/runs.jsonl");
  while (std::getline(runs, line)) {
    json j = json::parse(line);
    s.max_identical[j["run_id"]] = j["max_consecutive_identical_actions"];
    s.max_near_identical[j["run_id"]] = j["max_consecutive_near_identical_actions"];
  }
  return s;
}

// 1-based index of the call that makes `limit` identical actions in a row
// (computed directly from the sequence), 0 if none.
int expected_stop(const std::vector<std::string>& seq, int limit) {
  int streak = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    // A call with no action (a malformed answer) breaks the streak.
    streak = (i > 0 && seq[i] == seq[i - 1] && !seq[i].empty()) ? streak + 1 : 1;
    if (streak >= limit) return int(i + 1);
  }
  return 0;
}

// Replays the actions through the ledger; returns the first call denied
// with AB_REASON_LOOP (1-based), 0 if none.
int ledger_stop(ab_ledger* l, const std::string& id, const std::vector<std::string>& seq, int limit) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.loop_limit = uint32_t(limit);
  ab_run* r = nullptr;
  EXPECT_EQ(ab_run_begin(l, id.c_str(), &o, &r), AB_OK);
  int stop = 0;
  for (size_t i = 0; i < seq.size() && !stop; ++i) {
    uint64_t fp = seq[i].empty() ? 0 : std::strtoull(seq[i].c_str(), nullptr, 16);
    ab_hold h;
    int32_t reason = 0;
    int rc = ab_reserve(r, 0, fp, &h, &reason);
    if (rc == AB_DENIED) {
      EXPECT_EQ(reason, AB_REASON_LOOP);
      stop = int(i + 1);
    } else {
      EXPECT_EQ(rc, AB_OK);
      EXPECT_EQ(ab_commit(r, h, 0, nullptr), AB_OK);
    }
  }
  ab_run_status st;
  st.struct_size = sizeof st;
  EXPECT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.looped, stop ? 1u : 0u);
  ab_run_end(r);
  return stop;
}

}  // namespace

TEST(LoopGuard, StopsRealSweAgentLoopsAtTheLimitThCall) {
  TestLedger t;
  ab_ledger* l = t.open();
  Steps s = load("swe_agent_multi_swe_bench_java", "steps.jsonl");
  ASSERT_EQ(s.order.size(), 66u);
  for (int limit : {3, 5, 10}) {
    int stopped = 0, expected_runs = 0;
    for (auto& id : s.order) {
      int want = expected_stop(s.sha[id], limit);
      EXPECT_EQ(ledger_stop(l, id + "-" + std::to_string(limit), s.sha[id], limit), want) << id;
      stopped += want > 0;
      expected_runs += s.max_identical[id] >= limit;  // the data's own statistic
    }
    EXPECT_EQ(stopped, expected_runs) << "limit " << limit;
    if (limit == 5) {
      EXPECT_EQ(stopped, 41);  // every run with a streak of 5 or more
    }
  }
  ab_ledger_close(l);
}

TEST(LoopGuard, DoesNotStopMiniSweAgentPagingThroughAFile) {
  TestLedger t;
  ab_ledger* l = t.open();
  Steps s = load("mini_swe_agent_gemini3pro", "calls.jsonl");
  int paging_runs = 0;
  for (auto& id : s.order) {
    // sed -n 10,20p f / sed -n 30,40p f: near-identical, not identical.
    if (s.max_near_identical[id] >= 4 && s.max_identical[id] < 4) ++paging_runs;
    int stop = ledger_stop(l, id, s.sha[id], 4);
    EXPECT_EQ(stop, 0) << id << " max identical " << s.max_identical[id];
  }
  EXPECT_GE(paging_runs, 10);  // runs that page with changing line numbers exist and pass
  ab_ledger_close(l);
}

TEST(LoopGuard, CountsOnlyConsecutiveIdenticalCalls) {
  TestLedger t;
  ab_ledger* l = t.open();
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.loop_limit = 3;
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "loop-unit", &o, &r), AB_OK);
  int32_t reason = 0;
  // A A B A A: never three in a row.
  for (uint64_t fp : {0xAull, 0xAull, 0xBull, 0xAull, 0xAull}) EXPECT_EQ(ab_admit_fp(r, 0, fp, &reason), AB_OK);
  EXPECT_EQ(ab_admit_fp(r, 0, 0xA, &reason), AB_DENIED);  // the third A in a row
  EXPECT_EQ(reason, AB_REASON_LOOP);
  EXPECT_EQ(ab_admit_fp(r, 0, 0xA, &reason), AB_DENIED);  // still denied while repeating
  EXPECT_EQ(ab_admit_fp(r, 0, 0xC, &reason), AB_OK);      // a different action goes through
  EXPECT_EQ(ab_admit_fp(r, 0, 0xC, &reason), AB_OK);
  EXPECT_EQ(ab_admit_fp(r, 0, 0, &reason), AB_OK);  // a call with no fingerprint ends the streak
  EXPECT_EQ(ab_admit_fp(r, 0, 0xC, &reason), AB_OK);
  EXPECT_EQ(ab_admit_fp(r, 0, 0xC, &reason), AB_OK);
  ab_run_detach(r);
  ab_ledger_close(l);
}
