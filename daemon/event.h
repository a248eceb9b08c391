// Events the daemon delivers, and the sinks that receive them.
#pragma once
#include <cstdint>
#include <string>

#include "money.h"

namespace ab {

enum class EventKind {
  kSoftThreshold,
  kHardLimit,
  kUnpricedModel,
  kRunClosed,
  kLoopDetected,
  kPoolSoftThreshold,
  kPoolHardLimit,
  kPoolPeriodRolled,
  kCallDenied,
  kForecastOverBudget
};
inline constexpr int kEventKindCount = 10;

const char* event_kind_name(EventKind k);

struct Event {
  EventKind kind = EventKind::kSoftThreshold;  // set by whoever makes the event
  std::string run_id;                          // empty for pool events
  std::string pool;                            // pool events
  uint64_t period = 0;                         // pool events: the period it happened in (rolled: the one that ended)
  std::string policy;
  int threshold = -1;         // soft threshold index for kSoftThreshold
  Nanos threshold_nanos = 0;  // the line that was crossed (soft or hard)
  Nanos spent = 0;            // spent when the daemon saw it
  Nanos hard = kNoLimit;
  uint64_t calls = 0;
  uint64_t unix_ns = 0;
  std::string reason;         // kCallDenied: the denial reason's name (e.g. "run_hard", "pool")
  Nanos forecast_final = 0;   // kForecastOverBudget: projected final cost
  uint64_t exhaust_in_s = 0;  // kForecastOverBudget: projected seconds until the hard limit
  // kRunClosed: the run's life and usage, for the history database.
  uint64_t begun_unix_ns = 0;
  uint64_t closed_unix_ns = 0;
  uint64_t input_tokens = 0, cached_tokens = 0, cache_write_tokens = 0, output_tokens = 0, reasoning_tokens = 0;
  Nanos commit_excess = 0;  // sum of commits' excess over their reservations
};

// Parses an event kind name ("hard_limit"); false if unknown.
bool event_kind_from_name(const std::string& name, EventKind* out);

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void deliver(const Event& e) = 0;
};

// Logs each event through spdlog, one line each.
class LogSink : public EventSink {
 public:
  void deliver(const Event& e) override;
};

std::string describe(const Event& e);

}  // namespace ab
