// The commands of the control socket. Protocol: one JSON object per line,
// {"cmd": NAME, ...arguments}; one reply per line, {"ok": true, ...} or
// {"ok": false, "error": "..."}. Money is exact integer nano-USD in
// "*_nanos" fields (null = no limit); amounts sent by a client are decimal
// USD strings ("2.50"), never floats. Every command checks all of its
// arguments (unknown ones included) before it changes anything.
//
//   status                          daemon, ledger and counters
//   runs  [state active|closed|all] [policy P] [prefix S] [sort spent|calls|id|recent] [limit N]
//   run   id                        one run in detail (+ its events from the history)
//   pools                           pools and their current period
//   set   target run|pool|policy, name, [hard USD|"none"], [soft [fractions]]   (admin)
//   end   id                        (admin)
//   reset id, reason, [to USD | delta signed USD]   audited adjustment (admin)
//   reload                          (admin)
//   watch                           then one event JSON object per line
//   history [what events|runs] [run] [pool] [kind] [policy] [since_unix_ns] [limit] [by_spend]
//   suggest [policy] [since_unix_ns] [margin]
//
// `set` is live and not written back to the configuration file: a reload or
// a restart returns to the file's values. A run's hard limit is its
// caller's cap (client_hard) capped by its policy's (effective_hard), so an
// operator may lower a run's limit or raise it back up to its policy's, but
// never above the policy's: `set` refuses that and says to raise the policy.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "adjust.h"
#include "audit_log.h"
#include "clock.h"
#include "control_server.h"
#include "daemon.h"
#include "event_json.h"
#include "history.h"
#include "ledger_owner.h"
#include "pool_period.h"
#include "run_limits.h"
#include "run_ops.h"
#include "run_thresholds.h"

using nlohmann::json;

namespace ab {

namespace {

json error_reply(const std::string& msg) { return {{"ok", false}, {"error", msg}}; }
json money(Nanos n) { return n == kNoLimit ? json(nullptr) : json(n); }

std::string fixed_str(const char* s, size_t cap) {
  std::string out(s, strnlen(s, cap));
  for (char& ch : out)
    if (ch < 0x20 || ch > 0x7E) ch = '?';  // the segment is untrusted: keep replies printable
  return out;
}

// Argument checking: each getter returns false with err set on a bad value.
struct Args {
  const json& req;
  std::string cmd;
  std::string err;

  bool only(std::initializer_list<const char*> keys) {
    for (auto& item : req.items()) {
      const std::string& k = item.key();
      if (k == "cmd" || std::find_if(keys.begin(), keys.end(), [&](const char* a) { return k == a; }) != keys.end())
        continue;
      std::string list;
      for (const char* a : keys) list += (list.empty() ? "" : ", ") + std::string(a);
      return fail("unknown argument '" + k + "'" + (list.empty() ? " (it takes none)" : " (expected: " + list + ")"));
    }
    return true;
  }
  bool fail(const std::string& m) {
    err = cmd + ": " + m;
    return false;
  }
  bool has(const char* k) const { return req.contains(k) && !req[k].is_null(); }
  bool str(const char* k, bool required, std::string* out, size_t max_len = 256) {
    if (!has(k)) return required ? fail("missing \"" + std::string(k) + "\"") : true;
    if (!req[k].is_string()) return fail("\"" + std::string(k) + "\" must be a string");
    *out = req[k].get<std::string>();
    if (required && out->empty()) return fail("\"" + std::string(k) + "\" must not be empty");
    if (out->size() > max_len) return fail("\"" + std::string(k) + "\" is longer than " + std::to_string(max_len));
    return true;
  }
  bool uint(const char* k, uint64_t lo, uint64_t hi, uint64_t* out) {
    if (!has(k)) return true;
    if (!req[k].is_number_unsigned() || req[k].get<uint64_t>() < lo || req[k].get<uint64_t>() > hi)
      return fail("\"" + std::string(k) + "\" must be an integer from " + std::to_string(lo) + " to " +
                  std::to_string(hi));
    *out = req[k].get<uint64_t>();
    return true;
  }
  bool boolean(const char* k, bool* out) {
    if (!has(k)) return true;
    if (!req[k].is_boolean()) return fail("\"" + std::string(k) + "\" must be true or false");
    *out = req[k].get<bool>();
    return true;
  }
  bool choice(const char* k, std::initializer_list<const char*> allowed, std::string* out) {
    std::string v;
    if (!str(k, false, &v)) return false;
    if (!has(k)) return true;
    std::string list;
    for (const char* a : allowed) {
      if (v == a) {
        *out = v;
        return true;
      }
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    return fail("\"" + std::string(k) + "\" must be one of " + list);
  }
  // A USD amount as a decimal string; `signed_ok` allows a leading '-'.
  // `max`: adjustments move at most kMaxAmountNanos; limits go up to kMaxLimitNanos.
  bool usd(const char* k, bool signed_ok, Nanos* out, Nanos max = kMaxAmountNanos) {
    if (!has(k)) return true;
    std::string v;
    if (req[k].is_string()) v = req[k].get<std::string>();  // a float would not be exact: strings only
    bool neg = signed_ok && !v.empty() && v[0] == '-';
    auto n = parse_usd(neg ? std::string_view(v).substr(1) : std::string_view(v));
    if (!n || *n > max || v.size() > 64)
      return fail("\"" + std::string(k) + "\" must be a " + (signed_ok ? "signed " : "") + "USD amount string up to " +
                  format_usd(max, 0) + ", e.g. \"2.50\"");
    *out = neg ? -*n : *n;
    return true;
  }
};

const char* state_name(SlotState s) {
  switch (s) {
    case SlotState::kEmpty: return "empty";
    case SlotState::kClaiming: return "claiming";
    case SlotState::kActive: return "active";
    case SlotState::kClosed: return "closed";
    case SlotState::kTombstone: return "tombstone";
  }
  return "unknown";
}

const char* hold_state_name(HoldState s) {
  switch (s) {
    case HoldState::kFree: return "free";
    case HoldState::kReserving: return "reserving";
    case HoldState::kActive: return "active";
    case HoldState::kCommitting: return "committing";
    case HoldState::kReleasing: return "releasing";
    case HoldState::kCharging: return "charging";
    case HoldState::kExpired: return "expired";
  }
  return "unknown";
}

json event_bits(uint32_t bits) {
  json a = json::array();
  for (int k = 0; k < kMaxSoftThresholds; ++k)
    if (bits & soft_event_bit(k)) a.push_back("soft_threshold_" + std::to_string(k));
  static const std::pair<uint32_t, const char*> kNames[] = {
      {kEventHard, "hard_limit"},    {kEventUnpriced, "unpriced_model"}, {kEventClosed, "run_closed"},
      {kEventLoop, "loop_detected"}, {kEventDenied, "call_denied"},      {kEventForecast, "forecast_over_budget"}};
  for (auto& [b, n] : kNames)
    if (bits & b) a.push_back(n);
  return a;
}

std::string policy_name(const Ledger& l, const RunSlot& s) {
  const Policy* p = l.policy_of(s);
  return p ? fixed_str(p->name, sizeof p->name) : "?";
}

std::string pool_name(const Ledger& l, uint32_t i) {
  return i < l.pool_count() ? fixed_str(l.pool_defs()[i].name, sizeof l.pool_defs()[i].name) : "?";
}

// The summary row of a run (`runs`).
json run_row(const Ledger& l, const RunSlot& s, const RunStatus& st) {
  return {{"run_id", fixed_str(s.id, sizeof s.id)},
          {"policy", policy_name(l, s)},
          {"state", state_name(st.state)},
          {"spent_nanos", st.spent},
          {"child_spent_nanos", st.child_spent},
          {"held_nanos", st.held},
          {"hard_nanos", money(st.hard)},
          {"calls", st.calls},
          {"in_flight", st.in_flight},
          {"begun_unix_ns", st.begun_unix_ns},
          {"last_charge_unix_ns", st.last_charge_unix_ns}};
}

// A forecast for `run ID` and `pools`; null until there is a rate.
json forecast_json(const Forecast& f) {
  if (!f.known) return nullptr;
  return {{"method", "spend rate averaged over the last minute"},
          {"rate_nanos_per_s", int64_t(f.rate_nanos_per_s)},
          {"projected_nanos", f.projected},
          {"horizon_unix_s", f.horizon_unix_s},
          {"exhaust_in_s", f.exhaust_in_s < 0 ? json(nullptr) : json(f.exhaust_in_s)},
          {"over_budget", f.over_budget}};
}

}  // namespace

json ControlServer::cmd_status() {
  Ledger& l = d_.ledger();
  uint64_t active = 0, closed = 0, holds = 0;
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    SlotState st = word_state(l.slots()[i].word.load(std::memory_order_relaxed));
    active += st == SlotState::kActive;
    closed += st == SlotState::kClosed;
  }
  for (uint32_t i = 0; i < l.hold_capacity(); ++i) {
    HoldState hs = hold_state(l.holds()[i].word.load(std::memory_order_relaxed));
    holds += hs == HoldState::kActive;
  }
  uint64_t now = unix_ns();
  json j = {{"ok", true},
            {"ledger", l.name()},
            {"daemon_pid", getpid()},
            {"outcome", d_.outcome() == OwnOutcome::kCreated   ? "created"
                        : d_.outcome() == OwnOutcome::kAdopted ? "adopted"
                                                               : "restored"},
            {"started_unix_ns", started_unix_ns_},
            {"uptime_s", (now - started_unix_ns_) / 1'000'000'000u},
            {"run_capacity", l.capacity()},
            {"hold_capacity", l.hold_capacity()},
            {"runs_active", active},
            {"runs_closed", closed},
            {"holds_active", holds},
            {"table_full", l.header()->table_full_count.load(std::memory_order_relaxed)}};
  std::string reload_error = d_.last_reload_error();  // takes the config mutex itself
  j["last_reload_error"] = reload_error.empty() ? json(nullptr) : json(reload_error);
  j["reloads"] = d_.reloads();
  j["reload_failures"] = d_.reload_failures();
  {
    std::lock_guard lock(d_.config_mutex());  // the loop writes these during its pass
    const DaemonConfig& c = d_.config();
    j["config_source"] = c.source;
    j["models"] = d_.model_count();
    j["config_version"] = l.config()->config_version;
    size_t policies = 0, pools = 0;
    for (auto& p : c.policies) policies += !p.retired;
    for (auto& p : c.pools) pools += !p.retired;
    j["policies"] = policies;
    j["pools"] = pools;
    j["holds_released_dead"] = d_.reaped().released_dead;
    j["holds_released_lease"] = d_.reaped().released_lease;
    j["repairs"] = d_.reaped().repaired;
    j["slots_recycled"] = d_.recycled().recycled;
  }
  json events = json::object();
  uint64_t total = 0;
  std::vector<uint64_t> counts = hub_.counts();
  for (int k = 0; k < kEventKindCount; ++k) {
    events[event_kind_name(EventKind(k))] = counts[size_t(k)];
    total += counts[size_t(k)];
  }
  j["events_delivered"] = total;
  j["events"] = events;
  if (History* h = d_.history())
    j["history"] = {{"path", h->path()}, {"ok", h->ok()}, {"error", h->ok() ? json(nullptr) : json(h->error())}};
  else
    j["history"] = nullptr;
  j["control"] = {
      {"socket", path_},   {"connections", connections_}, {"open_connections", conns_.size()}, {"requests", requests_},
      {"errors", errors_}, {"refused", refused_},         {"watchers", hub_.subscribers()}};
  return j;
}

json ControlServer::cmd_runs(const json& req) {
  Args a{req, "runs", {}};
  std::string state = "active", policy, prefix, sort = "spent";
  uint64_t limit = 50;
  if (!a.only({"state", "policy", "prefix", "sort", "limit"}) ||
      !a.choice("state", {"active", "closed", "all"}, &state) || !a.str("policy", false, &policy) ||
      !a.str("prefix", false, &prefix) || !a.choice("sort", {"spent", "calls", "id", "recent"}, &sort) ||
      !a.uint("limit", 1, 1'000'000, &limit))
    return error_reply(a.err);
  Ledger& l = d_.ledger();
  struct Row {
    uint32_t index;
    RunStatus st;
  };
  std::vector<Row> rows;
  std::lock_guard lock(d_.config_mutex());  // policy names are rewritten by set/reload
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    const RunSlot& s = l.slots()[i];
    RunStatus st;
    status_of_slot(l, s, &st);
    bool want = st.state == SlotState::kActive   ? state != "closed"
                : st.state == SlotState::kClosed ? state != "active"
                                                 : false;
    if (!want) continue;
    if (!prefix.empty() && std::string_view(s.id, strnlen(s.id, sizeof s.id)).substr(0, prefix.size()) != prefix)
      continue;
    if (!policy.empty() && policy_name(l, s) != policy) continue;
    rows.push_back({i, st});
  }
  auto id_of = [&](const Row& r) { return std::string_view(l.slots()[r.index].id); };
  std::sort(rows.begin(), rows.end(), [&](const Row& x, const Row& y) {
    if (sort == "calls" && x.st.calls != y.st.calls) return x.st.calls > y.st.calls;
    if (sort == "recent" && x.st.last_charge_unix_ns != y.st.last_charge_unix_ns)
      return x.st.last_charge_unix_ns > y.st.last_charge_unix_ns;
    if (sort == "id") return id_of(x) < id_of(y);
    if (x.st.spent + x.st.child_spent != y.st.spent + y.st.child_spent)
      return x.st.spent + x.st.child_spent > y.st.spent + y.st.child_spent;
    return id_of(x) < id_of(y);  // stable output for equal spend
  });
  json out = json::array();
  for (size_t i = 0; i < rows.size() && i < limit; ++i) out.push_back(run_row(l, l.slots()[rows[i].index], rows[i].st));
  return {{"ok", true}, {"total", rows.size()}, {"runs", out}};
}

json ControlServer::cmd_run(const json& req) {
  Args a{req, "run", {}};
  std::string id;
  if (!a.only({"id"}) || !a.str("id", true, &id, kRunIdMax)) return error_reply(a.err);
  Ledger& l = d_.ledger();
  RunRef ref;
  if (Status s = l.find(id, &ref); s != Status::kOk)
    return error_reply("run: no run '" + id + "' in the ledger (" + status_message(s) + ")");
  json r;
  {
    std::lock_guard lock(d_.config_mutex());
    const RunSlot& s = *ref.slot;
    RunStatus st;
    status_of_slot(l, s, &st);
    r = run_row(l, s, st);
    const Policy* p = l.policy_of(s);
    Nanos ph = p ? p->hard_nanos.load(std::memory_order_relaxed) : kNoLimit;
    r["generation"] = st.generation;
    r["policy_hard_nanos"] = money(ph);
    r["client_hard_nanos"] = money(s.client_hard.load(std::memory_order_relaxed));
    r["overshoot_nanos"] = st.overshoot;
    json soft = json::array();
    for (Nanos t : st.soft)
      if (t != kNoLimit) soft.push_back(t);
    r["soft_nanos"] = soft;
    r["tokens"] = {{"input", st.input_tokens},
                   {"cached", st.cached_tokens},
                   {"cache_write", st.cache_write_tokens},
                   {"output", st.output_tokens},
                   {"reasoning", st.reasoning_tokens}};
    RunLimits lim = limits_of(l, s);
    r["limits"] = {{"max_calls", lim.max_calls},           {"max_tokens", lim.max_tokens},
                   {"max_duration_s", lim.max_duration_s}, {"max_in_flight", lim.max_in_flight},
                   {"loop_limit", lim.loop_limit},         {"hold_lease_s", lim.hold_lease_s}};
    r["looped"] = (st.flags & kRunLooped) != 0;
    r["first_charge_unix_ns"] = st.first_charge_unix_ns;
    r["closed_unix_ns"] = st.closed_unix_ns;
    if (st.last_denial) {
      uint32_t pool = st.last_denial >> 16;
      r["last_denial"] = {{"reason", reason_name(Reason(st.last_denial & 0xFFFF))},
                          {"pool", pool ? json(pool_name(l, pool - 1)) : json(nullptr)}};
    } else {
      r["last_denial"] = nullptr;
    }
    json pools = json::array();
    for (uint16_t pi : s.pools)
      if (pi != kNoPool) pools.push_back(pool_name(l, pi));
    r["pools"] = pools;
    json parents = json::array();
    for (uint32_t k = 0; k < s.ancestor_count && k < uint32_t(kMaxAncestors); ++k) {
      uint32_t ai = s.ancestor_index[k];
      if (ai >= l.capacity()) continue;
      const RunSlot& anc = l.slots()[ai];
      if (word_generation(anc.word.load(std::memory_order_acquire)) == s.ancestor_generation[k])
        parents.push_back(fixed_str(anc.id, sizeof anc.id));
    }
    r["ancestors"] = parents;
    r["events_pending"] = event_bits(st.pending_events & ~s.delivered_events.load(std::memory_order_relaxed));
    r["events_delivered"] = event_bits(s.delivered_events.load(std::memory_order_relaxed));
    // Holds in flight: the reservations of this run not yet settled.
    json holds = json::array();
    for (uint32_t i = 0; i < l.hold_capacity(); ++i) {
      const HoldSlot& h = l.holds()[i];
      uint64_t w = h.word.load(std::memory_order_acquire);
      HoldState hs = hold_state(w);
      if (hs == HoldState::kFree || hs == HoldState::kCharging) continue;
      if (h.run_index.load(std::memory_order_relaxed) != ref.index ||
          h.run_generation.load(std::memory_order_relaxed) != ref.generation)
        continue;
      holds.push_back({{"state", hold_state_name(hs)},
                       {"estimate_nanos", h.estimate.load(std::memory_order_relaxed)},
                       {"created_unix_ns", h.created_unix_ns.load(std::memory_order_relaxed)},
                       {"owner_pid", uint32_t(w)}});
    }
    r["holds"] = holds;
    r["forecast"] = forecast_json(d_.forecaster().run(ref.index, st.generation));
  }
  json reply = {{"ok", true}, {"run", r}};
  if (History* h = d_.history(); h && h->ok()) {
    EventQuery q;
    q.run_id = id;
    q.limit = 100;
    std::vector<EventRow> rows;
    std::string err;
    if (h->events(q, &rows, &err)) {
      json ev = json::array();
      for (auto& e : rows) ev.push_back(to_json(e));
      reply["events"] = ev;
    } else {
      reply["events_error"] = err;
    }
  }
  return reply;
}

json ControlServer::cmd_pools() {
  Ledger& l = d_.ledger();
  std::lock_guard lock(d_.config_mutex());
  json out = json::array();
  int64_t now_s = int64_t(unix_ns() / 1'000'000'000u);
  const DaemonConfig& c = d_.config();
  for (uint32_t i = 0; i < l.pool_count(); ++i) {
    if (i < c.pools.size() && c.pools[i].retired) continue;
    const PoolDef& def = l.pool_defs()[i];
    const PoolSlot& p = l.pools()[i];
    uint64_t period = period_of(def, now_s);
    json soft = json::array();
    for (uint32_t k = 0; k < def.soft_count && k < uint32_t(kMaxSoftThresholds); ++k)
      soft.push_back(def.soft_permille[k]);
    int64_t reset = next_reset(def, period);
    out.push_back({{"name", fixed_str(def.name, sizeof def.name)},
                   {"hard_nanos", money(def.hard_nanos.load(std::memory_order_relaxed))},
                   {"soft_permille", soft},
                   {"period", i < c.pools.size() ? c.pools[i].period : "?"},
                   {"period_tag", period},
                   {"spent_nanos", period_spent(p, period)},
                   {"held_nanos", p.held.load(std::memory_order_relaxed)},
                   {"total_spent_nanos", p.total_spent.load(std::memory_order_relaxed)},
                   {"previous_spent_nanos", p.previous_spent.load(std::memory_order_relaxed)},
                   {"next_reset_unix_s", reset == INT64_MAX ? json(nullptr) : json(reset)},
                   {"forecast", forecast_json(d_.forecaster().pool(i))}});
  }
  return {{"ok", true}, {"pools", out}};
}

json ControlServer::cmd_set(const json& req) {
  Args a{req, "set", {}};
  std::string target, name;
  Nanos hard = 0;
  bool hard_none = false;
  if (!a.only({"target", "name", "hard", "soft"}) || !a.choice("target", {"run", "pool", "policy"}, &target) ||
      !a.str("name", true, &name, kRunIdMax))
    return error_reply(a.err);
  if (target.empty()) return error_reply("set: missing \"target\" (run, pool or policy)");
  if (!a.has("hard") && !a.has("soft")) return error_reply("set: give \"hard\" and/or \"soft\"");
  if (a.has("hard")) {
    if (req["hard"].is_string() && req["hard"].get<std::string>() == "none")
      hard_none = true;
    else if (!a.usd("hard", false, &hard, kMaxLimitNanos))
      return error_reply(a.err + " or \"none\"");
  }
  std::vector<uint32_t> soft;
  if (a.has("soft")) {
    if (target == "run")
      return error_reply(
          "set: a run's soft thresholds follow its policy's fractions of its hard limit; "
          "set the policy's \"soft\" instead");
    const json& v = req["soft"];
    size_t max = target == "policy" ? kMaxSoftThresholds - 1 : kMaxSoftThresholds;
    if (!v.is_array() || v.size() > max)
      return error_reply("set: \"soft\" must be an array of at most " + std::to_string(max) +
                         " fractions of the hard limit, e.g. [0.5, 0.8]");
    for (auto& e : v) {
      if (!e.is_number() || !(e.get<double>() > 0) || e.get<double>() > 1.0)
        return error_reply("set: each \"soft\" fraction must be a number in (0, 1]");
      soft.push_back(uint32_t(std::lround(e.get<double>() * 1000)));
    }
  }
  Nanos new_hard = hard_none ? kNoLimit : hard;
  Ledger& l = d_.ledger();
  std::lock_guard lock(d_.config_mutex());
  if (target == "run") {
    RunRef ref;
    if (Status s = l.find(name, &ref); s != Status::kOk)
      return error_reply("set: no run '" + name + "' in the ledger (" + status_message(s) + ")");
    RunSlot& s = *ref.slot;
    if (word_state(s.word.load(std::memory_order_acquire)) != SlotState::kActive)
      return error_reply("set: run '" + name + "' has ended");
    const Policy* p = l.policy_of(s);
    Nanos ph = p ? p->hard_nanos.load(std::memory_order_relaxed) : kNoLimit;
    if (new_hard != kNoLimit && new_hard > ph)
      return error_reply("set: a run's hard limit cannot exceed its policy's ($" + format_usd(ph) +
                         "); raise the policy '" + policy_name(l, s) + "' instead");
    Nanos before = effective_hard(l, s);
    // "none": the run follows its policy's limit again.
    s.client_hard.store(new_hard, std::memory_order_relaxed);
    refresh_thresholds(l, s);
    spdlog::info("control: run {} hard limit {} -> {}", name, before == kNoLimit ? "none" : "$" + format_usd(before),
                 new_hard == kNoLimit ? "policy's" : "$" + format_usd(new_hard));
    return {{"ok", true},
            {"target", target},
            {"name", name},
            {"previous_hard_nanos", money(before)},
            {"hard_nanos", money(effective_hard(l, s))}};
  }
  DaemonConfig& cfg = d_.cfg_;
  auto* seg = static_cast<ConfigHeader*>(l.config_segment().data());
  json prev, now;
  size_t index = 0;
  if (target == "policy") {
    auto it = std::find_if(cfg.policies.begin(), cfg.policies.end(),
                           [&](const PolicyConfig& p) { return p.name == name && !p.retired; });
    if (it == cfg.policies.end() || size_t(it - cfg.policies.begin()) >= size_t(kMaxPolicies))
      return error_reply("set: no policy '" + name + "'");
    index = size_t(it - cfg.policies.begin());
    prev = {{"hard_nanos", money(it->hard)}, {"soft_permille", it->soft_permille}};
    if (a.has("hard")) it->hard = new_hard;
    if (a.has("soft")) it->soft_permille = soft;
    now = {{"hard_nanos", money(it->hard)}, {"soft_permille", it->soft_permille}};
  } else {
    auto it = std::find_if(cfg.pools.begin(), cfg.pools.end(),
                           [&](const PoolConfig& p) { return p.name == name && !p.retired; });
    if (it == cfg.pools.end() || size_t(it - cfg.pools.begin()) >= size_t(kMaxPools))
      return error_reply("set: no pool '" + name + "'");
    prev = {{"hard_nanos", money(it->hard)}, {"soft_permille", it->soft_permille}};
    if (a.has("hard")) it->hard = new_hard;
    if (a.has("soft")) it->soft_permille = soft;
    now = {{"hard_nanos", money(it->hard)}, {"soft_permille", it->soft_permille}};
  }
  // Hard limits are atomics read on every admission: existing runs and
  // pools are bound by the new value as soon as this returns.
  write_config_segment(seg, cfg, d_.models_);
  if (target == "policy")
    for (uint32_t i = 0; i < l.capacity(); ++i)
      if (l.slots()[i].policy == index) refresh_thresholds(l, l.slots()[i]);
  spdlog::info("control: {} {} set to {}", target, name, now.dump());
  return {{"ok", true},       {"target", target}, {"name", name},
          {"previous", prev}, {"now", now},       {"hard_nanos", now["hard_nanos"]}};
}

json ControlServer::cmd_end(const json& req) {
  Args a{req, "end", {}};
  std::string id;
  if (!a.only({"id"}) || !a.str("id", true, &id, kRunIdMax)) return error_reply(a.err);
  Ledger& l = d_.ledger();
  RunRef ref;
  if (Status s = l.find(id, &ref); s != Status::kOk)
    return error_reply("end: no run '" + id + "' in the ledger (" + status_message(s) + ")");
  bool was_active = word_state(ref.slot->word.load(std::memory_order_acquire)) == SlotState::kActive;
  if (Status s = end(l, ref); s != Status::kOk) return error_reply(std::string("end: ") + status_message(s));
  if (was_active) spdlog::info("control: ended run {}", id);
  return {{"ok", true},
          {"run_id", id},
          {"was_active", was_active},
          {"state", "closed"},
          {"spent_nanos", ref.slot->spent.load(std::memory_order_relaxed)}};
}

json ControlServer::cmd_reset(const json& req, const Peer& peer) {
  Args a{req, "reset", {}};
  std::string id, reason;
  Nanos to = 0, delta = 0;
  if (!a.only({"id", "reason", "to", "delta"}) || !a.str("id", true, &id, kRunIdMax) ||
      !a.str("reason", true, &reason, 1000) || !a.usd("to", false, &to) || !a.usd("delta", true, &delta))
    return error_reply(a.err);
  if (a.has("to") && a.has("delta")) return error_reply("reset: give \"to\" or \"delta\", not both");
  Ledger& l = d_.ledger();
  RunRef ref;
  if (Status s = l.find(id, &ref); s != Status::kOk)
    return error_reply("reset: no run '" + id + "' in the ledger (" + status_message(s) + ")");
  std::string audit;
  {
    std::lock_guard lock(d_.config_mutex());
    const DaemonConfig& c = d_.config();
    audit = (c.state_dir.empty() ? default_state_dir() : c.state_dir) + "/audit.jsonl";
  }
  Nanos before = ref.slot->spent.load(std::memory_order_acquire);
  if (!a.has("delta")) delta = to - before;  // default: back to zero
  if (before + delta < 0) return error_reply("reset: spent is $" + format_usd(before) + "; it cannot go below zero");
  if (delta > kMaxAmountNanos || delta < -kMaxAmountNanos)
    return error_reply("reset: at most $1,000,000 per adjustment");
  // Same record as `agentbudgetctl adjust`, written before the ledger
  // changes: an adjustment that is not in the log never happens.
  json rec = {{"time_unix_ns", unix_ns()}, {"kind", "adjustment"},         {"ledger", l.name()}, {"run_id", id},
              {"delta_nanos", delta},      {"spent_before_nanos", before}, {"reason", reason},   {"uid", peer.uid},
              {"pid", peer.pid},           {"via", "control_socket"}};
  std::string err;
  if (!append_audit(audit, rec, &err)) return error_reply("reset: " + err + "; nothing changed");
  Adjustment adj;
  if (Status s = adjust_spent(l, ref, delta, &adj); s != Status::kOk) {
    append_audit(
        audit, {{"time_unix_ns", unix_ns()}, {"kind", "adjustment_failed"}, {"run_id", id}, {"error", status_name(s)}},
        &err);
    return error_reply(std::string("reset: ") + status_message(s));
  }
  spdlog::info("control: run {} spent adjusted by ${} by uid {} ({})", id, format_usd(delta), peer.uid, reason);
  return {{"ok", true},
          {"run_id", id},
          {"delta_nanos", adj.delta},
          {"spent_before_nanos", adj.spent_before},
          {"spent_after_nanos", adj.spent_after},
          {"audit_log", audit}};
}

json ControlServer::cmd_reload() {
  std::string err;
  if (!d_.reload(&err)) return error_reply("reload: " + err);
  std::lock_guard lock(d_.config_mutex());
  return {
      {"ok", true}, {"config_source", d_.config().source}, {"config_version", d_.ledger().config()->config_version}};
}

json ControlServer::cmd_history(const json& req) {
  Args a{req, "history", {}};
  std::string what = "events", kind;
  bool by_spend = false;
  EventQuery eq;
  RunQuery rq;
  uint64_t since = 0, limit = 100;
  if (!a.only({"what", "run", "pool", "kind", "policy", "since_unix_ns", "limit", "by_spend"}) ||
      !a.choice("what", {"events", "runs"}, &what) || !a.str("run", false, &eq.run_id, kRunIdMax) ||
      !a.str("pool", false, &eq.pool) || !a.str("kind", false, &kind) || !a.str("policy", false, &rq.policy) ||
      !a.uint("since_unix_ns", 0, UINT64_MAX, &since) || !a.uint("limit", 1, 100'000, &limit) ||
      !a.boolean("by_spend", &by_spend))
    return error_reply(a.err);
  EventKind k;
  if (!kind.empty() && !event_kind_from_name(kind, &k))
    return error_reply("history: unknown event kind '" + kind + "'");
  History* h = d_.history();
  if (!h || !h->ok())
    return error_reply("history: the history database is not available" + (h ? ": " + h->error() : std::string()));
  std::string err;
  json out = json::array();
  if (what == "events") {
    eq.kind = kind;
    eq.since_unix_ns = since;
    eq.limit = limit;
    std::vector<EventRow> rows;
    if (!h->events(eq, &rows, &err)) return error_reply("history: " + err);
    for (auto& e : rows) out.push_back(to_json(e));
    return {{"ok", true}, {"events", out}};
  }
  rq.run_id = eq.run_id;
  rq.since_unix_ns = since;
  rq.limit = limit;
  rq.by_spend = by_spend;
  std::vector<RunRow> rows;
  if (!h->runs(rq, &rows, &err)) return error_reply("history: " + err);
  for (auto& r : rows) out.push_back(to_json(r));
  return {{"ok", true}, {"runs", out}};
}

json ControlServer::cmd_suggest(const json& req) {
  Args a{req, "suggest", {}};
  std::string policy;
  uint64_t since = 0;
  double margin = 0.20;
  if (!a.only({"policy", "since_unix_ns", "margin"}) || !a.str("policy", false, &policy) ||
      !a.uint("since_unix_ns", 0, UINT64_MAX, &since))
    return error_reply(a.err);
  if (a.has("margin")) {
    if (!req["margin"].is_number() || !(req["margin"].get<double>() >= 0) || req["margin"].get<double>() > 10)
      return error_reply("suggest: \"margin\" must be a number from 0 to 10 (0.2 = 20 %)");
    margin = req["margin"].get<double>();
  }
  std::vector<std::string> names;
  {
    std::lock_guard lock(d_.config_mutex());
    for (auto& p : d_.config().policies)
      if (!p.retired && (policy.empty() || p.name == policy)) names.push_back(p.name);
  }
  if (names.empty()) return error_reply("suggest: no policy '" + policy + "'");
  History* h = d_.history();
  if (!h || !h->ok())
    return error_reply("suggest: the history database is not available" + (h ? ": " + h->error() : std::string()));
  json out = json::array();
  for (auto& n : names) {
    Suggestion s;
    std::string err;
    if (!h->suggest(n, since, margin, &s, &err)) return error_reply("suggest: " + err);
    json j = to_json(s);
    j["text"] = describe(s);
    out.push_back(j);
  }
  return {{"ok", true}, {"suggestions", out}};
}

}  // namespace ab
