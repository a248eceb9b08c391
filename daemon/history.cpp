#include "history.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace ab {
namespace {

// Version 1: the first schema. A later version adds a step in migrate().
const char* const kSchemaV1 = R"sql(
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  unix_ns INTEGER NOT NULL,
  kind TEXT NOT NULL,
  run_id TEXT, pool TEXT, period INTEGER, policy TEXT,
  threshold INTEGER, threshold_nanos INTEGER,
  spent_nanos INTEGER NOT NULL, hard_nanos INTEGER,
  calls INTEGER, reason TEXT,
  forecast_final_nanos INTEGER, exhaust_in_s INTEGER);
CREATE INDEX events_time ON events(unix_ns);
CREATE INDEX events_run ON events(run_id);
CREATE INDEX events_pool ON events(pool);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL, policy TEXT NOT NULL,
  begun_unix_ns INTEGER NOT NULL, closed_unix_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL,
  spent_nanos INTEGER NOT NULL, hard_nanos INTEGER,
  overshoot_nanos INTEGER NOT NULL, commit_excess_nanos INTEGER NOT NULL,
  calls INTEGER NOT NULL, input_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL);
CREATE INDEX runs_policy ON runs(policy, closed_unix_ns);
CREATE INDEX runs_closed ON runs(closed_unix_ns);
CREATE INDEX runs_id ON runs(run_id);
CREATE TABLE pool_periods(
  id INTEGER PRIMARY KEY,
  pool TEXT NOT NULL, period INTEGER NOT NULL, spent_nanos INTEGER NOT NULL, unix_ns INTEGER NOT NULL);
CREATE INDEX pool_periods_pool ON pool_periods(pool, unix_ns);
)sql";

// A prepared statement, finalized on scope exit. Binds count from 1.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) { rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, const std::string& v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  int step() { return sqlite3_step(s_); }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  bool null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), size_t(sqlite3_column_bytes(s_, c))) : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

// Missing folders of `dir`, mode 0750 (the history names runs and spend).
bool make_dirs(const std::string& dir, std::string* err) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos < dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) {
      *err = "mkdir " + part + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

Nanos hard_of(const Stmt& s, int c) { return s.null(c) ? kNoLimit : s.i64(c); }

std::string sql_limit(size_t limit) { return limit ? " LIMIT " + std::to_string(limit) : std::string(); }

double usd(Nanos n) { return double(n) / 1e9; }

}  // namespace

// ---------------------------------------------------------------------------
// Suggestions.

Nanos suggested_budget(Nanos p95, double margin) {
  const __int128 ppm = std::llround(std::max(0.0, margin) * 1e6);  // exact integer maths from here
  const __int128 cent = 10'000'000;                                // nanos
  __int128 scaled = (__int128)p95 * (1'000'000 + ppm);             // nanos * 1e6
  __int128 cents = (scaled + cent * 1'000'000 - 1) / (cent * 1'000'000);
  __int128 v = cents * cent;
  return v > INT64_MAX ? INT64_MAX : Nanos(v);
}

Suggestion suggest_from(std::vector<Nanos> spends, double margin) {
  Suggestion s;
  s.margin = margin;
  s.n = spends.size();
  s.too_small = s.n < kMinSuggestSample;
  if (spends.empty()) return s;
  std::sort(spends.begin(), spends.end());
  auto rank = [&](size_t p) {  // nearest rank: ceil(p * n / 100), at least 1
    size_t r = (p * s.n + 99) / 100;
    return spends[std::max<size_t>(r, 1) - 1];
  };
  s.p50 = rank(50);
  s.p95 = rank(95);
  s.p99 = rank(99);
  s.max = spends.back();
  __int128 sum = 0;
  for (Nanos v : spends) sum += v;
  s.mean = Nanos((sum + __int128(s.n / 2)) / __int128(s.n));
  s.suggested = suggested_budget(s.p95, margin);
  return s;
}

nlohmann::json to_json(const Suggestion& s) {
  nlohmann::json j = {{"policy", s.policy}, {"since_unix_ns", s.since_unix_ns}, {"margin", s.margin},
                      {"runs", s.n},        {"min_runs", kMinSuggestSample},    {"sample_too_small", s.too_small}};
  if (s.n == 0) {
    j["suggested_nanos"] = nullptr;
    j["suggested_usd"] = nullptr;
    return j;
  }
  for (auto [name, v] : {std::pair{"p50", s.p50},
                         {"p95", s.p95},
                         {"p99", s.p99},
                         {"mean", s.mean},
                         {"max", s.max},
                         {"suggested", s.suggested}}) {
    j[std::string(name) + "_nanos"] = v;
    j[std::string(name) + "_usd"] = usd(v);
  }
  return j;
}

std::string describe(const Suggestion& s) {
  std::string line = "policy " + s.policy + ": ";
  if (s.n == 0) return line + "no closed runs in the history; no suggestion";
  char margin[32];
  std::snprintf(margin, sizeof margin, "%g", s.margin * 100);
  line += std::to_string(s.n) + (s.n == 1 ? " closed run" : " closed runs") + ", p50 $" + format_usd(s.p50) +
          ", p95 $" + format_usd(s.p95) + ", p99 $" + format_usd(s.p99) + ", mean $" + format_usd(s.mean) + ", max $" +
          format_usd(s.max) + "; suggested hard limit $" + format_usd(s.suggested) + " (p95 + " + margin + "%)";
  if (s.too_small)
    line += "; sample too small (fewer than " + std::to_string(kMinSuggestSample) + " runs): do not rely on it";
  return line;
}

nlohmann::json to_json(const EventRow& e) {
  nlohmann::json j = {
      {"id", e.id}, {"unix_ns", e.unix_ns}, {"kind", e.kind}, {"spent_nanos", e.spent}, {"spent_usd", usd(e.spent)}};
  if (!e.run_id.empty()) j["run_id"] = e.run_id, j["calls"] = e.calls;
  if (!e.policy.empty()) j["policy"] = e.policy;
  if (!e.pool.empty()) j["pool"] = e.pool, j["period"] = e.period;
  if (e.hard != kNoLimit) j["hard_nanos"] = e.hard;
  if (e.threshold >= 0) j["threshold"] = e.threshold;
  if (e.threshold_nanos) j["threshold_nanos"] = e.threshold_nanos;
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (e.forecast_final) j["forecast_final_nanos"] = e.forecast_final, j["exhaust_in_s"] = e.exhaust_in_s;
  return j;
}

nlohmann::json to_json(const RunRow& r) {
  nlohmann::json j = {{"run_id", r.run_id},
                      {"policy", r.policy},
                      {"begun_unix_ns", r.begun_unix_ns},
                      {"closed_unix_ns", r.closed_unix_ns},
                      {"duration_ns", r.duration_ns},
                      {"spent_nanos", r.spent},
                      {"spent_usd", usd(r.spent)},
                      {"hard_nanos", r.hard == kNoLimit ? nlohmann::json(nullptr) : nlohmann::json(r.hard)},
                      {"overshoot_nanos", r.overshoot},
                      {"commit_excess_nanos", r.commit_excess},
                      {"calls", r.calls},
                      {"input_tokens", r.input_tokens},
                      {"cached_tokens", r.cached_tokens},
                      {"cache_write_tokens", r.cache_write_tokens},
                      {"output_tokens", r.output_tokens},
                      {"reasoning_tokens", r.reasoning_tokens}};
  return j;
}

// ---------------------------------------------------------------------------
// The database.

History::~History() {
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) return;
  commit_locked();
  sqlite3_close_v2(db_);
}

bool History::ok() const {
  std::lock_guard<std::mutex> g(mu_);
  return db_ != nullptr;
}

std::string History::error() const {
  std::lock_guard<std::mutex> g(mu_);
  return error_;
}

void History::fail(const std::string& what) {
  // A full disk fails every tick: say it once, not ten times a second.
  if (what != error_) spdlog::error("history {}: {}", path_, what);
  error_ = what;
}

bool History::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
  fail(std::string(msg ? msg : sqlite3_errmsg(db_)) + " (in: " + std::string(sql).substr(0, 40) + ")");
  sqlite3_free(msg);
  return false;
}

bool History::open(const std::string& path) {
  std::lock_guard<std::mutex> g(mu_);
  path_ = path;
  std::string err;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(path.substr(0, slash), &err)) {
    fail(err);
    return false;
  }
  // Create it 0640 ourselves (SQLite would use 0644); its -wal and -shm
  // files copy the database's mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    fail(std::string("open: ") + std::strerror(errno));
    return false;
  }
  ::close(fd);
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    fail(std::string("open: ") + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  sqlite3_busy_timeout(db_, 5000);  // an operator's sqlite3 shell may hold a lock briefly
  // The first statement reads the file: a corrupt one fails here.
  bool good = exec("PRAGMA journal_mode=WAL") && exec("PRAGMA synchronous=NORMAL");
  if (good) {
    Stmt v(db_, "PRAGMA user_version");
    int version = v.ok() && v.step() == SQLITE_ROW ? int(v.i64(0)) : -1;
    if (version < 0) {
      fail(std::string("reading the schema version: ") + sqlite3_errmsg(db_));
      good = false;
    } else if (version > kHistorySchemaVersion) {
      fail("schema version " + std::to_string(version) + " is newer than this agentbudgetd's (" +
           std::to_string(kHistorySchemaVersion) + "); not touching it");
      good = false;
    } else if (version == 0) {  // new file: create the schema in one transaction
      good = exec("BEGIN IMMEDIATE") && exec(kSchemaV1) && exec("PRAGMA user_version=1") && exec("COMMIT");
      if (!good) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  if (!good) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  error_.clear();
  return true;
}

void History::record(const Event& e) {
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) return;
  if (!in_tx_) {
    if (!exec("BEGIN")) return;
    in_tx_ = true;
  }
  record_locked(e);
  // A failed statement may have rolled the transaction back (SQLITE_FULL).
  if (sqlite3_get_autocommit(db_)) in_tx_ = false;
}

void History::record_locked(const Event& e) {
  Stmt ins(db_,
           "INSERT INTO events(unix_ns, kind, run_id, pool, period, policy, threshold, threshold_nanos, spent_nanos,"
           " hard_nanos, calls, reason, forecast_final_nanos, exhaust_in_s)"
           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!ins.ok()) return fail(std::string("insert event: ") + sqlite3_errmsg(db_));
  ins.bind(1, int64_t(e.unix_ns));
  ins.bind(2, std::string(event_kind_name(e.kind)));
  ins.bind(3, e.run_id);
  ins.bind(4, e.pool);
  if (e.pool.empty())
    ins.bind_null(5);
  else
    ins.bind(5, int64_t(e.period));
  ins.bind(6, e.policy);
  if (e.threshold < 0)
    ins.bind_null(7);
  else
    ins.bind(7, int64_t(e.threshold));
  ins.bind(8, e.threshold_nanos);
  ins.bind(9, e.spent);
  if (e.hard == kNoLimit)
    ins.bind_null(10);
  else
    ins.bind(10, e.hard);
  ins.bind(11, int64_t(e.calls));
  ins.bind(12, e.reason);
  ins.bind(13, e.forecast_final);
  ins.bind(14, int64_t(e.exhaust_in_s));
  if (ins.step() != SQLITE_DONE) return fail(std::string("insert event: ") + sqlite3_errmsg(db_));

  if (e.kind == EventKind::kRunClosed) {
    uint64_t closed = e.closed_unix_ns ? e.closed_unix_ns : e.unix_ns;
    Stmt run(db_,
             "INSERT INTO runs(run_id, policy, begun_unix_ns, closed_unix_ns, duration_ns, spent_nanos, hard_nanos,"
             " overshoot_nanos, commit_excess_nanos, calls, input_tokens, cached_tokens, cache_write_tokens,"
             " output_tokens, reasoning_tokens) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!run.ok()) return fail(std::string("insert run: ") + sqlite3_errmsg(db_));
    run.bind(1, e.run_id);
    run.bind(2, e.policy);
    run.bind(3, int64_t(e.begun_unix_ns));
    run.bind(4, int64_t(closed));
    run.bind(5, int64_t(closed > e.begun_unix_ns ? closed - e.begun_unix_ns : 0));
    run.bind(6, e.spent);
    if (e.hard == kNoLimit)
      run.bind_null(7);
    else
      run.bind(7, e.hard);
    run.bind(8, e.hard != kNoLimit && e.spent > e.hard ? e.spent - e.hard : 0);
    run.bind(9, e.commit_excess);
    run.bind(10, int64_t(e.calls));
    run.bind(11, int64_t(e.input_tokens));
    run.bind(12, int64_t(e.cached_tokens));
    run.bind(13, int64_t(e.cache_write_tokens));
    run.bind(14, int64_t(e.output_tokens));
    run.bind(15, int64_t(e.reasoning_tokens));
    if (run.step() != SQLITE_DONE) return fail(std::string("insert run: ") + sqlite3_errmsg(db_));
  } else if (e.kind == EventKind::kPoolPeriodRolled) {
    Stmt pp(db_, "INSERT INTO pool_periods(pool, period, spent_nanos, unix_ns) VALUES(?,?,?,?)");
    if (!pp.ok()) return fail(std::string("insert pool period: ") + sqlite3_errmsg(db_));
    pp.bind(1, e.pool);
    pp.bind(2, int64_t(e.period));
    pp.bind(3, e.spent);
    pp.bind(4, int64_t(e.unix_ns));
    if (pp.step() != SQLITE_DONE) return fail(std::string("insert pool period: ") + sqlite3_errmsg(db_));
  }
}

void History::commit() {
  std::lock_guard<std::mutex> g(mu_);
  commit_locked();
}

bool History::commit_locked() {
  if (!db_ || !in_tx_) return true;
  in_tx_ = false;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    fail(std::string("commit: ") + sqlite3_errmsg(db_) + "; this tick's events are not archived");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  }
  if (!error_.empty()) {
    spdlog::info("history {}: writing again", path_);
    error_.clear();
  }
  return true;
}

bool History::events(const EventQuery& q, std::vector<EventRow>* out, std::string* error) {
  out->clear();
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) {
    if (error) *error = "history unavailable: " + error_;
    return false;
  }
  std::string sql =
      "SELECT id, unix_ns, kind, run_id, pool, period, policy, threshold, threshold_nanos, spent_nanos, hard_nanos,"
      " calls, reason, forecast_final_nanos, exhaust_in_s FROM events WHERE unix_ns >= ?1";
  if (!q.run_id.empty()) sql += " AND run_id = ?2";
  if (!q.pool.empty()) sql += " AND pool = ?3";
  if (!q.kind.empty()) sql += " AND kind = ?4";
  sql += " ORDER BY id DESC" + sql_limit(q.limit);
  Stmt s(db_, sql);
  if (!s.ok()) {
    if (error) *error = sqlite3_errmsg(db_);
    return false;
  }
  s.bind(1, int64_t(q.since_unix_ns));
  if (!q.run_id.empty()) s.bind(2, q.run_id);
  if (!q.pool.empty()) s.bind(3, q.pool);
  if (!q.kind.empty()) s.bind(4, q.kind);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    EventRow e;
    e.id = s.i64(0);
    e.unix_ns = uint64_t(s.i64(1));
    e.kind = s.text(2);
    e.run_id = s.text(3);
    e.pool = s.text(4);
    e.period = uint64_t(s.i64(5));
    e.policy = s.text(6);
    e.threshold = s.null(7) ? -1 : int(s.i64(7));
    e.threshold_nanos = s.i64(8);
    e.spent = s.i64(9);
    e.hard = hard_of(s, 10);
    e.calls = uint64_t(s.i64(11));
    e.reason = s.text(12);
    e.forecast_final = s.i64(13);
    e.exhaust_in_s = uint64_t(s.i64(14));
    out->push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) {
    if (error) *error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool History::runs(const RunQuery& q, std::vector<RunRow>* out, std::string* error) {
  out->clear();
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) {
    if (error) *error = "history unavailable: " + error_;
    return false;
  }
  std::string sql =
      "SELECT run_id, policy, begun_unix_ns, closed_unix_ns, duration_ns, spent_nanos, hard_nanos, overshoot_nanos,"
      " commit_excess_nanos, calls, input_tokens, cached_tokens, cache_write_tokens, output_tokens, reasoning_tokens"
      " FROM runs WHERE closed_unix_ns >= ?1";
  if (!q.policy.empty()) sql += " AND policy = ?2";
  if (!q.run_id.empty()) sql += " AND run_id = ?3";
  sql += q.by_spend ? " ORDER BY spent_nanos DESC, id DESC" : " ORDER BY closed_unix_ns DESC, id DESC";
  sql += sql_limit(q.limit);
  Stmt s(db_, sql);
  if (!s.ok()) {
    if (error) *error = sqlite3_errmsg(db_);
    return false;
  }
  s.bind(1, int64_t(q.since_unix_ns));
  if (!q.policy.empty()) s.bind(2, q.policy);
  if (!q.run_id.empty()) s.bind(3, q.run_id);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    RunRow r;
    r.run_id = s.text(0);
    r.policy = s.text(1);
    r.begun_unix_ns = uint64_t(s.i64(2));
    r.closed_unix_ns = uint64_t(s.i64(3));
    r.duration_ns = uint64_t(s.i64(4));
    r.spent = s.i64(5);
    r.hard = hard_of(s, 6);
    r.overshoot = s.i64(7);
    r.commit_excess = s.i64(8);
    r.calls = uint64_t(s.i64(9));
    r.input_tokens = uint64_t(s.i64(10));
    r.cached_tokens = uint64_t(s.i64(11));
    r.cache_write_tokens = uint64_t(s.i64(12));
    r.output_tokens = uint64_t(s.i64(13));
    r.reasoning_tokens = uint64_t(s.i64(14));
    out->push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    if (error) *error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool History::pool_periods(const std::string& pool, size_t limit, std::vector<PoolPeriodRow>* out, std::string* error) {
  out->clear();
  std::lock_guard<std::mutex> g(mu_);
  if (!db_) {
    if (error) *error = "history unavailable: " + error_;
    return false;
  }
  std::string sql = "SELECT pool, period, spent_nanos, unix_ns FROM pool_periods";
  if (!pool.empty()) sql += " WHERE pool = ?1";
  sql += " ORDER BY id DESC" + sql_limit(limit);
  Stmt s(db_, sql);
  if (!s.ok()) {
    if (error) *error = sqlite3_errmsg(db_);
    return false;
  }
  if (!pool.empty()) s.bind(1, pool);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out->push_back({s.text(0), uint64_t(s.i64(1)), s.i64(2), uint64_t(s.i64(3))});
  if (rc != SQLITE_DONE) {
    if (error) *error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool History::suggest(const std::string& policy, uint64_t since_unix_ns, double margin, Suggestion* out,
                      std::string* error) {
  if (!(margin >= 0 && margin <= 10)) {
    if (error) *error = "margin must be between 0 and 10 (a fraction: 0.20 = 20%)";
    return false;
  }
  std::vector<Nanos> spends;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!db_) {
      if (error) *error = "history unavailable: " + error_;
      return false;
    }
    Stmt s(db_, "SELECT spent_nanos FROM runs WHERE policy = ?1 AND closed_unix_ns >= ?2");
    if (!s.ok()) {
      if (error) *error = sqlite3_errmsg(db_);
      return false;
    }
    s.bind(1, policy);
    s.bind(2, int64_t(since_unix_ns));
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) spends.push_back(s.i64(0));
    if (rc != SQLITE_DONE) {
      if (error) *error = sqlite3_errmsg(db_);
      return false;
    }
  }
  *out = suggest_from(std::move(spends), margin);
  out->policy = policy;
  out->since_unix_ns = since_unix_ns;
  return true;
}

}  // namespace ab
