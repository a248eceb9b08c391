// The daemon's history database: events and closed runs archived exactly,
// kept across restarts, and budget suggestions from closed-run spend.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include <spdlog/spdlog.h>

#include "history.h"
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
constexpr int64_t kCent = 10'000'000;

// A daemon whose ledger name and state folder the test chooses, so a second
// daemon can start on the same ones (TestLedger picks its own name).
struct OwnDaemon {
  ab::DaemonConfig cfg;
  std::unique_ptr<ab::Daemon> d;

  explicit OwnDaemon(const std::string& state_dir) {
    if (!std::getenv("AB_TEST_LOG")) spdlog::set_level(spdlog::level::err);  // as TestLedger
    cfg = ab::builtin_default_config();
    cfg.ledger = unique_ledger_name();
    cfg.state_dir = state_dir;
    cfg.control.socket = state_dir + "/control.sock";
    cfg.group = "";
    cfg.group_required = false;
  }
  ~OwnDaemon() {
    d.reset();
    remove_test_ledger(cfg.ledger);
  }
  void start() {
    d = std::make_unique<ab::Daemon>(cfg);
    std::string msg;
    ASSERT_TRUE(d->start(&msg)) << msg;
  }
  ab_ledger* open() const {
    ab_ledger* l = nullptr;
    EXPECT_EQ(ab_ledger_open(cfg.ledger.c_str(), &l), AB_OK) << ab_last_error_detail();
    return l;
  }
};

// Reads one value with the plain SQLite API, independently of History.
std::string sql_value(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string v = "<error>";
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(h);
  return v;
}

ab::Event closed_event(const std::string& run, const std::string& policy, int64_t spent, uint64_t closed_ns) {
  ab::Event e;
  e.kind = ab::EventKind::kRunClosed;
  e.run_id = run;
  e.policy = policy;
  e.spent = spent;
  e.calls = 1;
  e.unix_ns = closed_ns;
  e.begun_unix_ns = closed_ns - 1000;
  e.closed_unix_ns = closed_ns;
  return e;
}

// Nearest rank, written out again here: the ceil(p * n / 100)-th smallest.
int64_t nearest_rank(const std::vector<int64_t>& sorted, int p) {
  size_t rank = (size_t(p) * sorted.size() + 99) / 100;
  return sorted[std::max<size_t>(rank, 1) - 1];
}

ab_usage to_c(const ab::ReportedUsage& r) {
  ab_usage u = AB_USAGE_INIT;
  u.shape = r.shape == ab::UsageShape::kAnthropic ? AB_USAGE_ANTHROPIC : AB_USAGE_OPENAI;
  u.input_tokens = r.input;
  u.cached_tokens = r.cached;
  u.cache_write_5m_tokens = r.cache_write_5m;
  u.cache_write_1h_tokens = r.cache_write_1h;
  u.output_tokens = r.output;
  u.reasoning_tokens = r.reasoning;
  u.flags = r.reasoning_separate ? AB_USAGE_REASONING_SEPARATE : 0;
  return u;
}

}  // namespace

TEST(History, SchemaIsCreatedInWalModeInAPrivateFolder) {
  std::string tmp = make_temp_dir();
  OwnDaemon od(tmp + "/state/nested");  // missing folders are made, mode 0750
  od.start();
  ab::History* h = od.d->history();
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(h->ok()) << h->error();
  std::string db = ab::history_path(od.cfg);
  EXPECT_EQ(h->path(), db);
  struct stat st;
  ASSERT_EQ(stat((tmp + "/state/nested").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0027, 0u);  // 0750 (less by the umask)
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u);  // no access for others
  EXPECT_EQ(sql_value(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_value(db, "PRAGMA user_version"), std::to_string(ab::kHistorySchemaVersion));
  EXPECT_EQ(sql_value(db,
                      "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table'"
                      " ORDER BY name)"),
            "events,pool_periods,runs");
  od.d.reset();
  fs::remove_all(tmp);
}

TEST(History, EventsAndClosedRunsAreExactAndSurviveARestart) {
  std::string dir = make_temp_dir();
  OwnDaemon od(dir);
  od.start();
  ab_ledger* l = od.open();
  ab_begin_options opts = AB_BEGIN_OPTIONS_INIT;
  opts.hard_nanos = usd("1.00");  // the default policy's soft thresholds: 50 % and 80 %
  ab_run* run = nullptr;
  ASSERT_EQ(ab_run_begin(l, "hist-run", &opts, &run), AB_OK);
  ab_usage u = AB_USAGE_INIT;  // README's example call: $0.054399
  u.shape = AB_USAGE_ANTHROPIC;
  u.input_tokens = 3;
  u.cache_write_5m_tokens = 12304;
  u.output_tokens = 550;
  for (int i = 0; i < 10; ++i) {
    int64_t cost = 0;
    ASSERT_EQ(ab_charge_usage(run, "claude-sonnet-4-5-20250929", &u, &cost, nullptr), AB_OK);
    ASSERT_EQ(cost, 54'399'000);
  }
  od.d->tick(true);  // soft threshold 0 at $0.54399
  ASSERT_EQ(ab_charge(run, usd("0.50"), nullptr), AB_OK);
  od.d->tick(true);  // soft threshold 1 and the hard limit at $1.04399
  ab::RunStatus live{};
  ab::Ledger& ledger = od.d->ledger();
  for (uint32_t i = 0; i < ledger.capacity(); ++i) {
    ab::RunStatus st;
    ab::status_of_slot(ledger, ledger.slots()[i], &st);
    if (st.state == ab::SlotState::kActive) live = st;
  }
  ASSERT_EQ(ab_run_end(run), AB_OK);
  od.d->tick(true);  // run_closed

  auto check = [&](ab::History* h) {
    ASSERT_TRUE(h->ok()) << h->error();
    std::vector<ab::EventRow> ev;
    ASSERT_TRUE(h->events({"hist-run", "", "", 0, 0}, &ev));
    ASSERT_EQ(ev.size(), 4u);  // newest first
    EXPECT_EQ(ev[0].kind, "run_closed");
    EXPECT_EQ(ev[1].kind, "hard_limit");
    EXPECT_EQ(ev[2].kind, "soft_threshold");
    EXPECT_EQ(ev[3].kind, "soft_threshold");
    EXPECT_EQ(ev[3].threshold, 0);
    EXPECT_EQ(ev[3].threshold_nanos, usd("0.50"));
    EXPECT_EQ(ev[3].spent, 543'990'000);
    EXPECT_EQ(ev[3].calls, 10u);
    EXPECT_EQ(ev[2].threshold, 1);
    EXPECT_EQ(ev[2].threshold_nanos, usd("0.80"));
    EXPECT_EQ(ev[1].threshold_nanos, usd("1.00"));
    for (auto& e : ev) {
      EXPECT_EQ(e.policy, "default");
      EXPECT_EQ(e.hard, usd("1.00"));
      EXPECT_TRUE(e.pool.empty());
    }
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(ev[k].spent, 1'043'990'000);
      EXPECT_EQ(ev[k].calls, 11u);
    }
    std::vector<ab::EventRow> only;
    ASSERT_TRUE(h->events({"", "", "soft_threshold", 0, 1}, &only));
    ASSERT_EQ(only.size(), 1u);  // the limit keeps the newest
    EXPECT_EQ(only[0].threshold, 1);

    std::vector<ab::RunRow> runs;
    ASSERT_TRUE(h->runs({"default", "", 0, 0, false}, &runs));
    ASSERT_EQ(runs.size(), 1u);
    const ab::RunRow& r = runs[0];
    EXPECT_EQ(r.run_id, "hist-run");
    EXPECT_EQ(r.policy, "default");
    EXPECT_EQ(r.spent, 1'043'990'000);
    EXPECT_EQ(r.hard, usd("1.00"));
    EXPECT_EQ(r.overshoot, 43'990'000);
    EXPECT_EQ(r.commit_excess, 0);
    EXPECT_EQ(r.calls, 11u);
    EXPECT_EQ(r.input_tokens, 30u);
    EXPECT_EQ(r.cached_tokens, 0u);
    EXPECT_EQ(r.cache_write_tokens, 123'040u);
    EXPECT_EQ(r.output_tokens, 5'500u);
    EXPECT_EQ(r.reasoning_tokens, 0u);
    EXPECT_EQ(r.begun_unix_ns, live.begun_unix_ns);
    EXPECT_GE(r.closed_unix_ns, r.begun_unix_ns);
    EXPECT_EQ(r.duration_ns, r.closed_unix_ns - r.begun_unix_ns);
    std::vector<ab::RunRow> none;
    ASSERT_TRUE(h->runs({"no-such-policy", "", 0, 0, false}, &none));
    EXPECT_TRUE(none.empty());
  };
  check(od.d->history());
  ab_ledger_close(l);

  // A new daemon on the same state folder (it adopts the ledger) reads the
  // old rows and does not archive the old events again.
  od.d.reset();
  od.start();
  od.d->tick(true);
  check(od.d->history());
  od.d.reset();
  fs::remove_all(dir);
}

TEST(History, PoolPeriodRolloversAreRecorded) {
  std::string dir = make_temp_dir();
  {
    ab::History h;
    ASSERT_TRUE(h.open(dir + "/pp.history.db")) << h.error();
    ab::Event e;
    e.kind = ab::EventKind::kPoolPeriodRolled;
    e.pool = "team";
    e.period = 20245;
    e.spent = 123'456'789;
    e.unix_ns = 1'700'000'000'000'000'000;
    h.record(e);
    h.commit();
    std::vector<ab::PoolPeriodRow> rows;
    ASSERT_TRUE(h.pool_periods("team", 0, &rows));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].pool, "team");
    EXPECT_EQ(rows[0].period, 20245u);
    EXPECT_EQ(rows[0].spent, 123'456'789);
    EXPECT_EQ(rows[0].unix_ns, 1'700'000'000'000'000'000u);
    ASSERT_TRUE(h.pool_periods("other", 0, &rows));
    EXPECT_TRUE(rows.empty());
    std::vector<ab::EventRow> ev;
    ASSERT_TRUE(h.events({"", "team", "pool_period_rolled", 0, 10}, &ev));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].period, 20245u);
  }
  fs::remove_all(dir);
}

TEST(History, PercentilesAreNearestRankAndTheBudgetRoundsUpToACent) {
  // 1..100 cents, shuffled: p50 = 50, p95 = 95, p99 = 99.
  std::vector<int64_t> spends;
  for (int k = 1; k <= 100; ++k) spends.push_back(k * kCent);
  std::shuffle(spends.begin(), spends.end(), std::mt19937(7));
  ab::Suggestion s = ab::suggest_from(spends, 0.20);
  EXPECT_EQ(s.n, 100u);
  EXPECT_FALSE(s.too_small);
  EXPECT_EQ(s.p50, 50 * kCent);
  EXPECT_EQ(s.p95, 95 * kCent);
  EXPECT_EQ(s.p99, 99 * kCent);
  EXPECT_EQ(s.max, 100 * kCent);
  EXPECT_EQ(s.mean, 505'000'000);                   // 50.5 cents
  EXPECT_EQ(s.suggested, 114 * kCent);              // 0.95 * 1.2 is 1.14 exactly, not 1.15
  EXPECT_EQ(ab::suggested_budget(1, 0.20), kCent);  // any fraction of a cent rounds up
  EXPECT_EQ(ab::suggested_budget(usd("1.00") + 1, 0.0), 101 * kCent);
  EXPECT_EQ(ab::suggested_budget(usd("1.00"), 0.0), 100 * kCent);
  EXPECT_EQ(ab::suggested_budget(usd("0.333333333"), 0.5), 50 * kCent);  // 0.4999999995 -> 0.50
  EXPECT_EQ(ab::suggested_budget(0, 0.20), 0);

  // Ranks with a fraction below one half: ceil, not round (0.95 * 32 = 30.4 -> 31st).
  std::vector<int64_t> v32;
  for (int k = 32; k >= 1; --k) v32.push_back(k);
  ab::Suggestion s32 = ab::suggest_from(v32, 0.0);
  EXPECT_EQ(s32.p50, 16);
  EXPECT_EQ(s32.p95, 31);
  EXPECT_EQ(s32.p99, 32);

  ab::Suggestion small = ab::suggest_from({3 * kCent, 1 * kCent, 2 * kCent}, 0.20);
  EXPECT_TRUE(small.too_small);  // still reported
  EXPECT_EQ(small.n, 3u);
  EXPECT_EQ(small.p50, 2 * kCent);
  EXPECT_EQ(small.p95, 3 * kCent);
  EXPECT_EQ(small.suggested, 4 * kCent);  // 3.6 cents, up
  small.policy = "tiny";
  EXPECT_NE(ab::describe(small).find("sample too small"), std::string::npos) << ab::describe(small);
  json js = ab::to_json(small);
  EXPECT_TRUE(js["sample_too_small"].get<bool>());
  EXPECT_EQ(js["suggested_nanos"].get<int64_t>(), 4 * kCent);
  EXPECT_EQ(js["p95_nanos"].get<int64_t>(), 3 * kCent);

  ab::Suggestion empty = ab::suggest_from({}, 0.20);
  EXPECT_EQ(empty.n, 0u);
  EXPECT_TRUE(empty.too_small);
  EXPECT_TRUE(ab::to_json(empty)["suggested_nanos"].is_null());

  // The same through the database: policy and `since` filter the runs.
  std::string dir = make_temp_dir();
  {
    ab::History h;
    ASSERT_TRUE(h.open(dir + "/s.history.db")) << h.error();
    for (size_t i = 0; i < spends.size(); ++i)
      h.record(closed_event("r" + std::to_string(i), "agents", spends[i], 1'000'000 + i));
    h.record(closed_event("other", "other-policy", usd("500"), 2'000'000));
    h.commit();
    ab::Suggestion d;
    ASSERT_TRUE(h.suggest("agents", 0, 0.20, &d));
    EXPECT_EQ(d.policy, "agents");
    EXPECT_EQ(d.n, 100u);
    EXPECT_EQ(d.p50, 50 * kCent);
    EXPECT_EQ(d.p95, 95 * kCent);
    EXPECT_EQ(d.p99, 99 * kCent);
    EXPECT_EQ(d.suggested, 114 * kCent);
    EXPECT_NE(ab::describe(d).find("suggested hard limit $1.14 (p95 + 20%)"), std::string::npos) << ab::describe(d);
    EXPECT_EQ(ab::to_json(d)["suggested_usd"].get<double>(), 1.14);
    ASSERT_TRUE(h.suggest("agents", 1'000'000 + 96, 0.20, &d));  // the last 4 closed
    EXPECT_EQ(d.n, 4u);
    EXPECT_TRUE(d.too_small);
    std::string err;
    EXPECT_FALSE(h.suggest("agents", 0, -0.5, &d, &err));
    EXPECT_FALSE(err.empty());
    std::vector<ab::RunRow> top;
    ASSERT_TRUE(h.runs({"", "", 0, 2, true}, &top));  // by spend
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].run_id, "other");
    EXPECT_EQ(top[1].spent, 100 * kCent);
  }
  fs::remove_all(dir);
}

TEST(History, ACorruptDatabaseIsReportedAndTheDaemonStillEnforces) {
  std::string dir = make_temp_dir();
  OwnDaemon od(dir);
  std::string db = ab::history_path(od.cfg);
  std::string garbage(8192, '\0');
  std::mt19937 rng(42);
  for (char& c : garbage) c = char(rng());
  std::ofstream(db, std::ios::binary) << garbage;
  od.start();
  ab::History* h = od.d->history();
  ASSERT_NE(h, nullptr);
  EXPECT_FALSE(h->ok());
  EXPECT_NE(h->error().find("not a database"), std::string::npos) << h->error();
  std::vector<ab::EventRow> ev;
  std::string err;
  EXPECT_FALSE(h->events({}, &ev, &err));
  EXPECT_NE(err.find("history unavailable"), std::string::npos) << err;
  ab::Suggestion s;
  EXPECT_FALSE(h->suggest("default", 0, 0.2, &s, &err));

  // Enforcement goes on without it.
  ab_ledger* l = od.open();
  ab_begin_options opts = AB_BEGIN_OPTIONS_INIT;
  opts.hard_nanos = usd("0.10");
  ab_run* run = nullptr;
  ASSERT_EQ(ab_run_begin(l, "corrupt-history", &opts, &run), AB_OK);
  ASSERT_EQ(ab_charge(run, usd("0.10"), nullptr), AB_OK);
  int32_t reason = 0;
  EXPECT_EQ(ab_admit(run, 0, &reason), AB_DENIED);
  EXPECT_EQ(reason, AB_REASON_RUN_HARD);
  EXPECT_GT(od.d->tick(true), 0u);  // events still go to the other sinks
  ab_run_end(run);
  EXPECT_GT(od.d->tick(true), 0u);
  ab_ledger_close(l);
  od.d.reset();
  // The operator's file is left as it was, for them to inspect.
  std::ifstream in(db, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage);
  fs::remove_all(dir);
}

// The real traces, replayed through a live ledger by the real
// `agentbudgetctl replay`: every run is archived when it closes, and the
// suggestion's percentiles equal those computed here from the traces.
TEST(History, SuggestionFromReplayedRealTracesMatchesTheTraces) {
  TestLedger t;
  std::string out;
  ASSERT_EQ(run_command(kCtl + " --ledger " + t.name() + " replay --json --workers 2 --prefix hist --traces " + kTraces,
                        &out),
            0)
      << out;
  json summary = json::parse(out.substr(out.rfind("\n{") + 1));
  t.daemon().tick(true);  // archive every run_closed

  // Each run's cost from the traces: the provider's billed cost where the
  // call carries one, else its usage priced with the ledger's table.
  std::vector<ab::TraceRun> runs;
  std::string err;
  ASSERT_TRUE(ab::load_traces(kTraces, &runs, &err)) << err;
  ab_ledger* l = t.open();
  std::vector<int64_t> expected;
  int64_t total = 0;
  uint64_t calls = 0;
  for (const ab::TraceRun& r : runs) {
    int64_t run_cost = 0;
    for (const ab::TraceCall& c : r.calls) {
      ++calls;
      if (c.recorded_cost) {
        run_cost += *c.recorded_cost;
        continue;
      }
      ab_usage u = to_c(c.usage);
      int64_t p = 0;
      int rc = ab_price(l, c.model.c_str(), &u, &p);
      if (rc == AB_ERR_UNKNOWN_MODEL) {
        // The synthetic error message: fallback-priced, and it has no tokens.
        EXPECT_EQ(u.input_tokens + u.output_tokens + u.cached_tokens + u.cache_write_5m_tokens, 0u) << c.model;
        continue;
      }
      ASSERT_EQ(rc, AB_OK) << c.model;
      run_cost += p;
    }
    expected.push_back(run_cost);
    total += run_cost;
  }
  ab_ledger_close(l);
  ASSERT_EQ(summary["runs"].get<size_t>(), runs.size());
  ASSERT_EQ(summary["stopped_runs"].get<int>(), 0);
  EXPECT_EQ(summary["charged_nanos"].get<int64_t>(), total);  // the truth agrees with the replay's own sum
  std::sort(expected.begin(), expected.end());

  ab::History* h = t.daemon().history();
  ASSERT_TRUE(h->ok()) << h->error();
  ab::Suggestion s;
  ASSERT_TRUE(h->suggest("default", 0, 0.20, &s, &err)) << err;
  EXPECT_EQ(s.n, runs.size());
  EXPECT_FALSE(s.too_small);
  EXPECT_EQ(s.p50, nearest_rank(expected, 50));
  EXPECT_EQ(s.p95, nearest_rank(expected, 95));
  EXPECT_EQ(s.p99, nearest_rank(expected, 99));
  EXPECT_EQ(s.max, expected.back());
  EXPECT_EQ(s.mean, (total + int64_t(runs.size()) / 2) / int64_t(runs.size()));
  // p95 * 1.2 rounded up to a cent, in integers: p95 * 12 / 10 nanos.
  EXPECT_EQ(s.suggested, (s.p95 * 12 + 10 * kCent - 1) / (10 * kCent) * kCent);
  EXPECT_GT(s.p95, s.p50);

  // Every run's row, not just the percentiles: the same multiset of spends.
  std::vector<ab::RunRow> rows;
  ASSERT_TRUE(h->runs({"default", "", 0, 0, true}, &rows));
  ASSERT_EQ(rows.size(), runs.size());
  std::vector<int64_t> got;
  uint64_t got_calls = 0;
  for (auto& r : rows) {
    got.push_back(r.spent);
    got_calls += r.calls;
    EXPECT_EQ(r.run_id.rfind("hist-", 0), 0u) << r.run_id;
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(got_calls, calls);
  EXPECT_EQ(rows[0].spent, expected.back());  // by spend: highest first
  std::vector<ab::EventRow> closed;
  ASSERT_TRUE(h->events({"", "", "run_closed", 0, 0}, &closed));
  EXPECT_EQ(closed.size(), runs.size());
}
