#include "event.h"

#include <spdlog/spdlog.h>

namespace ab {

const char* event_kind_name(EventKind k) {
  switch (k) {
    case EventKind::kSoftThreshold: return "soft_threshold";
    case EventKind::kHardLimit: return "hard_limit";
    case EventKind::kUnpricedModel: return "unpriced_model";
    case EventKind::kRunClosed: return "run_closed";
  }
  return "unknown";
}

std::string describe(const Event& e) {
  std::string s = std::string(event_kind_name(e.kind)) + " run=" + e.run_id + " policy=" + e.policy;
  if (e.kind == EventKind::kSoftThreshold || e.kind == EventKind::kHardLimit)
    s += " threshold=$" + format_usd(e.threshold_nanos);
  s += " spent_now=$" + format_usd(e.spent);
  if (e.hard != kNoLimit) s += " hard=$" + format_usd(e.hard);
  s += " calls=" + std::to_string(e.calls);
  return s;
}

void LogSink::deliver(const Event& e) {
  if (e.kind == EventKind::kRunClosed) spdlog::info("{}", describe(e));
  else spdlog::warn("{}", describe(e));
}

}  // namespace ab
