// The daemon's history database (SQLite): every event it delivered, one row
// per closed run, and each pool period's final spend. Budget suggestions are
// computed from the closed runs.
//
// Enforcement never depends on it: if the file cannot be opened or written,
// the daemon logs the error, keeps running, and ok()/error() report it.
// Thread-safe: the daemon loop writes, the control-socket thread reads, over
// one connection guarded by a mutex. Writes of one tick share a transaction
// (record() opens it, commit() ends it).
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "event.h"
#include "money.h"

struct sqlite3;

namespace ab {

inline constexpr int kHistorySchemaVersion = 1;  // PRAGMA user_version

// One delivered event, as stored. Empty strings stand for "none".
struct EventRow {
  int64_t id = 0;  // ascending in delivery order
  uint64_t unix_ns = 0;
  std::string kind;  // event_kind_name()
  std::string run_id, pool, policy;
  uint64_t period = 0;
  int threshold = -1;
  Nanos threshold_nanos = 0, spent = 0, hard = kNoLimit;
  uint64_t calls = 0;
  std::string reason;
  Nanos forecast_final = 0;
  uint64_t exhaust_in_s = 0;
};

struct EventQuery {
  std::string run_id, pool, kind;  // empty: any
  uint64_t since_unix_ns = 0;      // events at or after
  size_t limit = 100;              // newest first; 0 = no limit
};

// One closed run.
struct RunRow {
  std::string run_id, policy;
  uint64_t begun_unix_ns = 0, closed_unix_ns = 0, duration_ns = 0;
  Nanos spent = 0;          // its load against its hard limit: own spend plus sub-agents'
  Nanos hard = kNoLimit;    // its effective hard limit when it closed
  Nanos overshoot = 0;      // spent past the hard limit (0 if none)
  Nanos commit_excess = 0;  // sum of commits' excess over their reservations
  uint64_t calls = 0, input_tokens = 0, cached_tokens = 0, cache_write_tokens = 0, output_tokens = 0,
           reasoning_tokens = 0;
};

struct RunQuery {
  std::string policy, run_id;  // empty: any
  uint64_t since_unix_ns = 0;  // closed at or after
  size_t limit = 100;          // 0 = no limit
  bool by_spend = false;       // highest spend first; else most recently closed first
};

struct PoolPeriodRow {
  std::string pool;
  uint64_t period = 0;   // the period tag that ended
  Nanos spent = 0;       // its spend when it rolled
  uint64_t unix_ns = 0;  // when the daemon saw it roll
};

inline constexpr size_t kMinSuggestSample = 5;

// Closed-run spend statistics of one policy and the budget they suggest.
// Percentiles are nearest-rank: the ceil(p/100 * n)-th smallest spend.
struct Suggestion {
  std::string policy;
  uint64_t since_unix_ns = 0;
  double margin = 0.20;
  size_t n = 0;
  Nanos p50 = 0, p95 = 0, p99 = 0, mean = 0, max = 0;  // mean rounded half up
  Nanos suggested = 0;                                 // p95 * (1 + margin), rounded up to a whole cent; 0 if n == 0
  bool too_small = true;                               // n < kMinSuggestSample: report, but do not trust
};

// Pure computation behind History::suggest (spends in any order).
Suggestion suggest_from(std::vector<Nanos> spends, double margin);
// p95 * (1 + margin) rounded up to a whole cent, exactly (margin to 1e-6).
Nanos suggested_budget(Nanos p95, double margin);

nlohmann::json to_json(const Suggestion& s);
nlohmann::json to_json(const EventRow& e);
nlohmann::json to_json(const RunRow& r);
// "policy default: 122 closed runs, p50 $0.31 ... suggested hard limit $1.49 (p95 + 20%)"
std::string describe(const Suggestion& s);

class History {
 public:
  History() = default;
  ~History();  // commits what is pending
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Opens or creates the database (and its folder, mode 0750), migrating
  // the schema. False with error() set if it cannot; the object stays
  // usable (every call then fails cleanly).
  bool open(const std::string& path);
  bool ok() const;
  // The last error ("" if none), e.g. "open /x/y.history.db: file is not a database".
  std::string error() const;
  const std::string& path() const { return path_; }

  // Records one delivered event (run_closed also adds the run's row, a
  // pool period rollover a pool_periods row) in the open transaction.
  void record(const Event& e);
  // Commits what record() wrote since the last commit. Called once a tick.
  void commit();

  bool events(const EventQuery& q, std::vector<EventRow>* out, std::string* error = nullptr);
  bool runs(const RunQuery& q, std::vector<RunRow>* out, std::string* error = nullptr);
  bool pool_periods(const std::string& pool, size_t limit, std::vector<PoolPeriodRow>* out,
                    std::string* error = nullptr);
  // Statistics of the policy's closed runs (closed at or after `since`).
  bool suggest(const std::string& policy, uint64_t since_unix_ns, double margin, Suggestion* out,
               std::string* error = nullptr);

 private:
  bool exec(const char* sql);          // under mu_
  void fail(const std::string& what);  // under mu_: remembers and logs (once per distinct error)
  void record_locked(const Event& e);
  bool commit_locked();

  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::string path_;
  std::string error_;
  bool in_tx_ = false;
};

// Records every event the daemon delivers into a History.
class HistorySink : public EventSink {
 public:
  explicit HistorySink(History& h) : history_(h) {}
  void deliver(const Event& e) override { history_.record(e); }

 private:
  History& history_;
};

}  // namespace ab
