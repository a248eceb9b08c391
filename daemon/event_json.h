// The one place an Event is rendered for the outside: as a JSON object (the
// webhook body, an exec hook's stdin) and as AB_* environment variables (an
// exec hook's environment). Both come from the same fields, so a consumer
// sees the same values whichever sink it uses.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "event.h"

namespace ab {

// Schema (version 1). Every key is always present; a field that does not
// apply to the event's kind is null. Money is given twice: exact integer
// nano-USD ("*_nanos") and a decimal USD string ("*_usd", e.g. "1.50").
//   version, kind, run_id, pool, policy, period, threshold (soft index),
//   threshold_nanos/_usd, spent_nanos/_usd, hard_nanos/_usd (null: no limit),
//   calls, reason, forecast_final_nanos/_usd, exhaust_in_s, unix_ns, unix_s,
//   summary (the log line).
nlohmann::json event_to_json(const Event& e);
// event_to_json(e) serialised on one line.
std::string event_json_text(const Event& e);

// The same fields as NAME=VALUE pairs: AB_EVENT_KIND, AB_RUN_ID, AB_POOL,
// AB_POLICY, AB_PERIOD, AB_THRESHOLD, AB_THRESHOLD_NANOS, AB_THRESHOLD_USD,
// AB_SPENT_NANOS, AB_SPENT_USD, AB_HARD_NANOS, AB_HARD_USD, AB_CALLS,
// AB_REASON, AB_FORECAST_FINAL_NANOS, AB_FORECAST_FINAL_USD,
// AB_EXHAUST_IN_S, AB_UNIX_NS, AB_UNIX_S, AB_EVENT_SUMMARY. A variable whose
// JSON field is null is left out (so `${AB_HARD_USD:-none}` works).
std::vector<std::pair<std::string, std::string>> event_env(const Event& e);

}  // namespace ab
