#include "inspect.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "adjust.h"
#include "audit_log.h"
#include "clock.h"
#include "ledger.h"
#include "run_ops.h"
#include "segment.h"

using nlohmann::json;

namespace ab {

static std::unique_ptr<Ledger> open_or_report(const std::string& name, bool writable = false) {
  std::unique_ptr<Ledger> l;
  std::string msg;
  Status s = Ledger::open(resolve_ledger_name(name), writable, &l, &msg);
  if (s != Status::kOk) {
    std::cerr << "agentbudgetctl: " << status_message(s) << (msg.empty() ? "" : " (" + msg + ")") << "\n";
    return nullptr;
  }
  return l;
}

int show_status(const std::string& ledger, bool as_json) {
  auto l = open_or_report(ledger);
  if (!l) return 3;
  const DataHeader* h = l->header();
  uint64_t active = 0, closed = 0;
  for (uint32_t i = 0; i < l->capacity(); ++i) {
    SlotState st = word_state(l->slots()[i].word.load(std::memory_order_relaxed));
    active += st == SlotState::kActive;
    closed += st == SlotState::kClosed;
  }
  uint64_t hb = h->heartbeat_unix_ns.load(std::memory_order_relaxed);
  double age = (double(unix_ns()) - double(hb)) / 1e9;
  json j = {{"ledger", l->name()},
            {"layout", std::to_string(h->layout_major) + "." + std::to_string(h->layout_minor)},
            {"capacity", l->capacity()},
            {"runs_active", active},
            {"runs_closed", closed},
            {"daemon_pid", h->daemon_pid.load()},
            {"daemon_epoch", h->daemon_epoch.load()},
            {"heartbeat_age_s", age},
            {"daemon_alive", age < 1.0},
            {"policies", l->config()->policy_count},
            {"models", l->config()->model_count}};
  if (as_json) {
    std::cout << j.dump() << "\n";
  } else {
    std::printf("ledger %s (layout %s), %u run slots: %llu active, %llu closed\n", l->name().c_str(),
                j["layout"].get<std::string>().c_str(), l->capacity(), (unsigned long long)active,
                (unsigned long long)closed);
    std::printf("daemon pid %u, heartbeat %.1f s ago (%s); %u policies, %u priced models\n", h->daemon_pid.load(), age,
                age < 1.0 ? "alive" : "NOT RUNNING", l->config()->policy_count, l->config()->model_count);
  }
  return 0;
}

int show_runs(const std::string& ledger, bool as_json, bool include_closed, size_t limit) {
  auto l = open_or_report(ledger);
  if (!l) return 3;
  struct Row {
    std::string id, policy;
    RunStatus st;
  };
  std::vector<Row> rows;
  for (uint32_t i = 0; i < l->capacity(); ++i) {
    const RunSlot& s = l->slots()[i];
    RunStatus st;
    status_of_slot(*l, s, &st);
    if (st.state != SlotState::kActive && !(include_closed && st.state == SlotState::kClosed)) continue;
    const Policy* p = l->policy_of(s);
    std::string id(s.id, strnlen(s.id, kRunIdMax));
    for (char& ch : id)
      if (ch < 0x21 || ch > 0x7E) ch = '?';  // a corrupt slot must not write raw bytes to a terminal
    rows.push_back({id, p ? std::string(p->name, strnlen(p->name, 64)) : "?", st});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.st.spent > b.st.spent; });
  if (rows.size() > limit) rows.resize(limit);
  if (as_json) {
    json arr = json::array();
    for (auto& r : rows)
      arr.push_back({{"run_id", r.id},
                     {"policy", r.policy},
                     {"state", r.st.state == SlotState::kActive ? "active" : "closed"},
                     {"spent_nanos", r.st.spent},
                     {"hard_nanos", r.st.hard == kNoLimit ? json(nullptr) : json(r.st.hard)},
                     {"calls", r.st.calls}});
    std::cout << arr.dump() << "\n";
    return 0;
  }
  std::printf("%-50s %-12s %-7s %14s %14s %8s\n", "RUN", "POLICY", "STATE", "SPENT", "HARD", "CALLS");
  for (auto& r : rows)
    std::printf("%-50.50s %-12.12s %-7s %14s %14s %8llu\n", r.id.c_str(), r.policy.c_str(),
                r.st.state == SlotState::kActive ? "active" : "closed", ("$" + format_usd(r.st.spent, 4)).c_str(),
                r.st.hard == kNoLimit ? "-" : ("$" + format_usd(r.st.hard, 2)).c_str(), (unsigned long long)r.st.calls);
  return 0;
}

}  // namespace ab

namespace ab {

int adjust_run(const std::string& ledger, const std::string& run_id, const std::string& amount,
               const std::string& reason, const std::string& audit_log, bool as_json) {
  bool negative = !amount.empty() && amount[0] == '-';
  auto magnitude = parse_usd(negative ? std::string_view(amount).substr(1) : std::string_view(amount));
  if (!magnitude) {
    std::cerr << "agentbudgetctl adjust: '" << amount << "' is not a USD amount (e.g. -76.16)\n";
    return 2;
  }
  if (*magnitude > kMaxAmountNanos) {
    std::cerr << "agentbudgetctl adjust: at most $1,000,000 per adjustment\n";
    return 2;
  }
  if (reason.empty()) {
    std::cerr << "agentbudgetctl adjust: --reason must not be empty\n";
    return 2;
  }
  const std::string path = audit_log.empty() ? default_audit_log_path() : audit_log;
  auto l = open_or_report(ledger, true);
  if (!l) return 3;
  RunRef ref;
  Status s = l->find(run_id, &ref);
  if (s != Status::kOk) {
    std::cerr << "agentbudgetctl adjust: " << status_message(s) << " ('" << run_id << "')\n";
    return 3;
  }
  Nanos delta = negative ? -*magnitude : *magnitude;
  RunStatus before;
  status_of_slot(*l, *ref.slot, &before);
  if (before.spent + delta < 0) {
    std::cerr << "agentbudgetctl adjust: spent is $" << format_usd(before.spent) << "; it cannot go below zero\n";
    return 2;
  }
  // The audit record is written before the ledger changes: an adjustment
  // that is not in the log never happens.
  json rec = {{"time_unix_ns", unix_ns()}, {"kind", "adjustment"}, {"ledger", l->name()},
              {"run_id", run_id},          {"delta_nanos", delta}, {"spent_before_nanos", before.spent},
              {"reason", reason},          {"uid", getuid()},      {"pid", getpid()}};
  std::string err;
  if (!append_audit(path, rec, &err)) {
    std::cerr << "agentbudgetctl adjust: " << err << "; nothing changed\n";
    return 3;
  }
  Adjustment adj;
  s = adjust_spent(*l, ref, delta, &adj);
  if (s != Status::kOk) {
    // Say in the log that the recorded adjustment did not happen.
    append_audit(
        path,
        {{"time_unix_ns", unix_ns()}, {"kind", "adjustment_failed"}, {"run_id", run_id}, {"error", status_name(s)}},
        &err);
    std::cerr << "agentbudgetctl adjust: " << status_message(s) << "\n";
    return 3;
  }
  if (as_json) {
    std::cout << json{{"run_id", run_id},
                      {"delta_nanos", delta},
                      {"spent_before_nanos", adj.spent_before},
                      {"spent_after_nanos", adj.spent_after},
                      {"audit_log", path}}
                     .dump()
              << "\n";
  } else {
    std::cout << "adjusted " << run_id << " by " << (delta < 0 ? "-$" : "+$") << format_usd(delta < 0 ? -delta : delta)
              << ": spent $" << format_usd(adj.spent_before) << " -> $" << format_usd(adj.spent_after)
              << " (audit: " << path << ")\n";
  }
  return 0;
}

}  // namespace ab
