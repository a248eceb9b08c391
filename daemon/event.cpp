#include "event.h"

#include <spdlog/spdlog.h>

namespace ab {

const char* event_kind_name(EventKind k) {
  switch (k) {
    case EventKind::kSoftThreshold: return "soft_threshold";
    case EventKind::kHardLimit: return "hard_limit";
    case EventKind::kUnpricedModel: return "unpriced_model";
    case EventKind::kRunClosed: return "run_closed";
    case EventKind::kLoopDetected: return "loop_detected";
    case EventKind::kPoolSoftThreshold: return "pool_soft_threshold";
    case EventKind::kPoolHardLimit: return "pool_hard_limit";
    case EventKind::kPoolPeriodRolled: return "pool_period_rolled";
    case EventKind::kCallDenied: return "call_denied";
    case EventKind::kForecastOverBudget: return "forecast_over_budget";
  }
  return "unknown";
}

bool event_kind_from_name(const std::string& name, EventKind* out) {
  for (int k = 0; k < kEventKindCount; ++k)
    if (name == event_kind_name(EventKind(k))) {
      *out = EventKind(k);
      return true;
    }
  return false;
}

std::string describe(const Event& e) {
  std::string s = event_kind_name(e.kind);
  if (e.run_id.empty()) {
    s += " pool=" + e.pool + " period=" + std::to_string(e.period);
    if (e.kind == EventKind::kPoolPeriodRolled) return s + " spent=$" + format_usd(e.spent);
  } else {
    s += " run=" + e.run_id + " policy=" + e.policy;
  }
  if (e.kind == EventKind::kSoftThreshold || e.kind == EventKind::kHardLimit ||
      e.kind == EventKind::kPoolSoftThreshold || e.kind == EventKind::kPoolHardLimit)
    s += " threshold=$" + format_usd(e.threshold_nanos);
  if (e.kind == EventKind::kCallDenied) s += " reason=" + e.reason + (e.pool.empty() ? "" : " pool=" + e.pool);
  if (e.kind == EventKind::kForecastOverBudget)
    s += " forecast=$" + format_usd(e.forecast_final) + " exhausted_in=" + std::to_string(e.exhaust_in_s) + "s";
  s += " spent_now=$" + format_usd(e.spent);
  if (e.hard != kNoLimit) s += " hard=$" + format_usd(e.hard);
  if (!e.run_id.empty()) s += " calls=" + std::to_string(e.calls);
  return s;
}

void LogSink::deliver(const Event& e) {
  if (e.kind == EventKind::kRunClosed || e.kind == EventKind::kPoolPeriodRolled)
    spdlog::info("{}", describe(e));
  else
    spdlog::warn("{}", describe(e));
}

}  // namespace ab
