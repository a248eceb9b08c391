#include "event_json.h"

#include <nlohmann/json.hpp>

namespace ab {

namespace {

bool has_threshold(EventKind k) {
  return k == EventKind::kSoftThreshold || k == EventKind::kHardLimit || k == EventKind::kPoolSoftThreshold ||
         k == EventKind::kPoolHardLimit;
}

bool is_pool_event(EventKind k) {
  return k == EventKind::kPoolSoftThreshold || k == EventKind::kPoolHardLimit || k == EventKind::kPoolPeriodRolled;
}

void put_money(nlohmann::json& j, const std::string& name, Nanos n, bool present) {
  if (present) {
    j[name + "_nanos"] = n;
    j[name + "_usd"] = format_usd(n);
  } else {
    j[name + "_nanos"] = nullptr;
    j[name + "_usd"] = nullptr;
  }
}

nlohmann::json str_or_null(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }

// JSON key -> environment variable, in the order variables are emitted.
constexpr std::pair<const char*, const char*> kEnvNames[] = {
    {"kind", "AB_EVENT_KIND"},
    {"run_id", "AB_RUN_ID"},
    {"pool", "AB_POOL"},
    {"policy", "AB_POLICY"},
    {"period", "AB_PERIOD"},
    {"threshold", "AB_THRESHOLD"},
    {"threshold_nanos", "AB_THRESHOLD_NANOS"},
    {"threshold_usd", "AB_THRESHOLD_USD"},
    {"spent_nanos", "AB_SPENT_NANOS"},
    {"spent_usd", "AB_SPENT_USD"},
    {"hard_nanos", "AB_HARD_NANOS"},
    {"hard_usd", "AB_HARD_USD"},
    {"calls", "AB_CALLS"},
    {"reason", "AB_REASON"},
    {"forecast_final_nanos", "AB_FORECAST_FINAL_NANOS"},
    {"forecast_final_usd", "AB_FORECAST_FINAL_USD"},
    {"exhaust_in_s", "AB_EXHAUST_IN_S"},
    {"unix_ns", "AB_UNIX_NS"},
    {"unix_s", "AB_UNIX_S"},
    {"summary", "AB_EVENT_SUMMARY"},
};

}  // namespace

nlohmann::json event_to_json(const Event& e) {
  const bool pool_event = is_pool_event(e.kind);
  nlohmann::json j;
  j["version"] = 1;
  j["kind"] = event_kind_name(e.kind);
  j["run_id"] = str_or_null(e.run_id);
  j["pool"] = str_or_null(e.pool);  // also set on a call_denied event caused by a pool
  j["policy"] = str_or_null(e.policy);
  j["period"] = pool_event ? nlohmann::json(e.period) : nlohmann::json();
  j["threshold"] = e.threshold >= 0 ? nlohmann::json(e.threshold) : nlohmann::json();
  put_money(j, "threshold", e.threshold_nanos, has_threshold(e.kind));
  put_money(j, "spent", e.spent, true);
  put_money(j, "hard", e.hard, e.hard != kNoLimit);
  j["calls"] = e.run_id.empty() ? nlohmann::json() : nlohmann::json(e.calls);
  j["reason"] = str_or_null(e.reason);
  const bool forecast = e.kind == EventKind::kForecastOverBudget;
  put_money(j, "forecast_final", e.forecast_final, forecast);
  j["exhaust_in_s"] = forecast ? nlohmann::json(e.exhaust_in_s) : nlohmann::json();
  j["unix_ns"] = e.unix_ns;
  j["unix_s"] = e.unix_ns / 1'000'000'000u;
  j["summary"] = describe(e);
  return j;
}

std::string event_json_text(const Event& e) { return event_to_json(e).dump(); }

std::vector<std::pair<std::string, std::string>> event_env(const Event& e) {
  nlohmann::json j = event_to_json(e);
  std::vector<std::pair<std::string, std::string>> env;
  for (auto& [key, name] : kEnvNames) {
    const nlohmann::json& v = j.at(key);
    if (v.is_null()) continue;
    env.emplace_back(name, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return env;
}

}  // namespace ab
