#include "control_cmds.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "clock.h"
#include "control_client.h"
#include "inspect.h"
#include "ledger.h"
#include "money.h"
#include "run_ops.h"
#include "segment.h"

using nlohmann::json;

namespace ab {

namespace {

// "$1.50", or "-" for no limit (null).
std::string usd_of(const json& nanos, int decimals = 2) {
  if (!nanos.is_number_integer()) return "-";
  return "$" + format_usd(nanos.get<Nanos>(), decimals);
}

std::string str_of(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string("-");
}

std::string time_of(uint64_t unix_ns) {
  if (!unix_ns) return "-";
  std::time_t t = std::time_t(unix_ns / 1'000'000'000u);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

uint64_t since_days(double days) {
  if (days <= 0) return 0;
  uint64_t back = uint64_t(days * 86400.0) * 1'000'000'000u;
  uint64_t now = unix_ns();
  return back < now ? now - back : 0;
}

// A bar of `width` cells for used/limit ("[#####.....]").
std::string bar(Nanos used, Nanos limit, int width) {
  if (limit == kNoLimit || limit <= 0) return "[" + std::string(size_t(width), ' ') + "]";
  double f = std::clamp(double(used) / double(limit), 0.0, 1.0);
  int full = int(std::lround(f * width));
  return "[" + std::string(size_t(full), '#') + std::string(size_t(width - full), '.') + "]";
}

// "  forecast    $0.0120/min, $1.84 by 14:05:00 (over budget), hard limit in 300 s"
void print_forecast(const json& f) {
  double per_min = double(f.value("rate_nanos_per_s", int64_t(0))) * 60 / 1e9;
  std::string line = "  forecast    $" + format_usd(Nanos(per_min * 1e9), 4) + "/min, " + usd_of(f["projected_nanos"]) +
                     " by " + time_of(f.value("horizon_unix_s", 0ull) * 1'000'000'000u);
  if (f.value("over_budget", false)) line += " (over budget)";
  if (f["exhaust_in_s"].is_number()) line += ", hard limit in " + f["exhaust_in_s"].dump() + " s";
  std::printf("%s\n", line.c_str());
}

void print_runs_table(const json& runs) {
  std::printf("%-40s %-12s %-7s %12s %12s %8s %6s\n", "RUN", "POLICY", "STATE", "SPENT", "HARD", "CALLS", "INFL");
  for (auto& r : runs)
    std::printf("%-40.40s %-12.12s %-7s %12s %12s %8llu %6u\n", str_of(r, "run_id").c_str(),
                str_of(r, "policy").c_str(), str_of(r, "state").c_str(), usd_of(r["spent_nanos"], 4).c_str(),
                usd_of(r["hard_nanos"]).c_str(), (unsigned long long)r.value("calls", uint64_t(0)),
                r.value("in_flight", 0u));
}

void print_status(const json& j) {
  std::printf("agentbudgetd pid %lld on ledger %s (%s), up %llu s\n", (long long)j.value("daemon_pid", 0),
              str_of(j, "ledger").c_str(), str_of(j, "outcome").c_str(), (unsigned long long)j.value("uptime_s", 0ull));
  std::printf("config %s (version %llu); %llu policies, %llu pools, %llu priced models\n",
              str_of(j, "config_source").c_str(), (unsigned long long)j.value("config_version", 0ull),
              (unsigned long long)j.value("policies", 0ull), (unsigned long long)j.value("pools", 0ull),
              (unsigned long long)j.value("models", 0ull));
  std::printf("runs: %llu active, %llu closed, %llu run slots; %llu holds active; table full %llu times\n",
              (unsigned long long)j.value("runs_active", 0ull), (unsigned long long)j.value("runs_closed", 0ull),
              (unsigned long long)j.value("run_capacity", 0ull), (unsigned long long)j.value("holds_active", 0ull),
              (unsigned long long)j.value("table_full", 0ull));
  std::string kinds;
  if (j.contains("events") && j["events"].is_object())
    for (auto& [k, v] : j["events"].items())
      if (v.is_number_unsigned() && v.get<uint64_t>()) kinds += (kinds.empty() ? "" : ", ") + k + " " + v.dump();
  std::printf("events delivered: %llu%s\n", (unsigned long long)j.value("events_delivered", 0ull),
              kinds.empty() ? "" : (" (" + kinds + ")").c_str());
  std::printf("holds released: %llu of dead processes, %llu past their lease; %llu repairs; %llu slots recycled\n",
              (unsigned long long)j.value("holds_released_dead", 0ull),
              (unsigned long long)j.value("holds_released_lease", 0ull), (unsigned long long)j.value("repairs", 0ull),
              (unsigned long long)j.value("slots_recycled", 0ull));
  if (j.contains("history") && j["history"].is_object()) {
    const json& h = j["history"];
    std::printf("history: %s (%s)\n", str_of(h, "path").c_str(),
                h.value("ok", false) ? "ok" : ("unavailable: " + str_of(h, "error")).c_str());
  }
  if (j.contains("control") && j["control"].is_object()) {
    const json& c = j["control"];
    std::printf("control: %s, %llu open connections, %llu watchers, %llu requests\n", str_of(c, "socket").c_str(),
                (unsigned long long)c.value("open_connections", 0ull), (unsigned long long)c.value("watchers", 0ull),
                (unsigned long long)c.value("requests", 0ull));
  }
  std::printf("reloads: %llu (%llu refused)%s\n", (unsigned long long)j.value("reloads", 0ull),
              (unsigned long long)j.value("reload_failures", 0ull),
              j["last_reload_error"].is_string() ? ("; last error: " + str_of(j, "last_reload_error")).c_str() : "");
}

void print_run(const json& reply) {
  const json& r = reply["run"];
  std::printf("run %s (%s), policy %s\n", str_of(r, "run_id").c_str(), str_of(r, "state").c_str(),
              str_of(r, "policy").c_str());
  std::printf("  spent       %s (sub-agents %s), held %s, overshoot %s\n", usd_of(r["spent_nanos"], 4).c_str(),
              usd_of(r["child_spent_nanos"], 4).c_str(), usd_of(r["held_nanos"], 4).c_str(),
              usd_of(r["overshoot_nanos"], 4).c_str());
  std::printf("  hard limit  %s (policy %s, run cap %s)\n", usd_of(r["hard_nanos"]).c_str(),
              usd_of(r["policy_hard_nanos"]).c_str(), usd_of(r["client_hard_nanos"]).c_str());
  std::string soft;
  for (auto& s : r["soft_nanos"]) soft += (soft.empty() ? "" : ", ") + usd_of(s);
  std::printf("  soft        %s\n", soft.empty() ? "-" : soft.c_str());
  const json& t = r["tokens"];
  std::printf(
      "  calls       %llu, in flight %u; tokens in %llu, cached %llu, cache write %llu, out %llu, reasoning %llu\n",
      (unsigned long long)r.value("calls", 0ull), r.value("in_flight", 0u), (unsigned long long)t.value("input", 0ull),
      (unsigned long long)t.value("cached", 0ull), (unsigned long long)t.value("cache_write", 0ull),
      (unsigned long long)t.value("output", 0ull), (unsigned long long)t.value("reasoning", 0ull));
  std::string lim;
  for (auto& [k, v] : r["limits"].items())
    if (v.is_number_unsigned() && v.get<uint64_t>()) lim += (lim.empty() ? "" : ", ") + k + " " + v.dump();
  std::printf("  limits      %s\n", lim.empty() ? "none besides money" : lim.c_str());
  std::printf("  begun       %s; last charge %s; closed %s\n", time_of(r.value("begun_unix_ns", 0ull)).c_str(),
              time_of(r.value("last_charge_unix_ns", 0ull)).c_str(), time_of(r.value("closed_unix_ns", 0ull)).c_str());
  if (!r["pools"].empty()) std::printf("  pools       %s\n", r["pools"].dump().c_str());
  if (!r["ancestors"].empty()) std::printf("  parents     %s\n", r["ancestors"].dump().c_str());
  if (r["last_denial"].is_object())
    std::printf(
        "  last denial %s%s\n", str_of(r["last_denial"], "reason").c_str(),
        r["last_denial"]["pool"].is_string() ? (" (pool " + str_of(r["last_denial"], "pool") + ")").c_str() : "");
  if (r.value("looped", false)) std::printf("  looped      yes (the loop guard denied a call)\n");
  for (auto& h : r["holds"])
    std::printf("  hold        %s %s by pid %llu since %s\n", str_of(h, "state").c_str(),
                usd_of(h["estimate_nanos"], 4).c_str(), (unsigned long long)h.value("owner_pid", 0ull),
                time_of(h.value("created_unix_ns", 0ull)).c_str());
  if (r["forecast"].is_object()) print_forecast(r["forecast"]);
  if (reply.contains("events"))
    for (auto& e : reply["events"])
      std::printf("  event       %s %s spent %s\n", time_of(e.value("unix_ns", 0ull)).c_str(),
                  str_of(e, "kind").c_str(), usd_of(e["spent_nanos"], 4).c_str());
}

void print_pools(const json& pools) {
  std::printf("%-20s %-8s %12s %12s %12s %-20s %s\n", "POOL", "PERIOD", "SPENT", "HARD", "HELD", "RESETS", "USE");
  for (auto& p : pools) {
    Nanos spent = p.value("spent_nanos", Nanos(0));
    Nanos hard = p["hard_nanos"].is_number_integer() ? p["hard_nanos"].get<Nanos>() : kNoLimit;
    std::printf(
        "%-20.20s %-8.8s %12s %12s %12s %-20s %s\n", str_of(p, "name").c_str(), str_of(p, "period").c_str(),
        usd_of(p["spent_nanos"], 4).c_str(), usd_of(p["hard_nanos"]).c_str(), usd_of(p["held_nanos"], 4).c_str(),
        p["next_reset_unix_s"].is_number() ? time_of(p["next_reset_unix_s"].get<uint64_t>() * 1'000'000'000u).c_str()
                                           : "-",
        bar(spent, hard, 20).c_str());
    if (p["forecast"].is_object()) print_forecast(p["forecast"]);
  }
}

// ---------------------------------------------------------------------------
// top: the busiest runs, straight from shared memory (no daemon needed).

struct TopRow {
  std::string id, policy;
  RunStatus st;
};

int run_top(const std::string& ledger_flag, double interval, bool once, size_t limit) {
  std::unique_ptr<Ledger> l;
  std::string msg;
  Status s = Ledger::open(resolve_ledger_name(ledger_flag), false, &l, &msg);
  if (s != Status::kOk) {
    std::cerr << "agentbudgetctl top: " << status_message(s) << (msg.empty() ? "" : " (" + msg + ")") << "\n";
    return 3;
  }
  const bool tty = !once && isatty(STDOUT_FILENO);
  std::map<std::string, std::pair<Nanos, uint64_t>> last;  // id -> spent, unix_ns at the previous frame
  for (;;) {
    std::vector<TopRow> rows;
    Nanos total = 0;
    for (uint32_t i = 0; i < l->capacity(); ++i) {
      const RunSlot& slot = l->slots()[i];
      RunStatus st;
      status_of_slot(*l, slot, &st);
      if (st.state != SlotState::kActive) continue;
      std::string id(slot.id, strnlen(slot.id, kRunIdMax));
      for (char& ch : id)
        if (ch < 0x21 || ch > 0x7E) ch = '?';
      const Policy* p = l->policy_of(slot);
      total += st.spent;
      rows.push_back({id, p ? std::string(p->name, strnlen(p->name, sizeof p->name)) : "?", st});
    }
    std::sort(rows.begin(), rows.end(), [](const TopRow& a, const TopRow& b) {
      return a.st.spent + a.st.child_spent != b.st.spent + b.st.child_spent
                 ? a.st.spent + a.st.child_spent > b.st.spent + b.st.child_spent
                 : a.id < b.id;
    });
    uint64_t now = unix_ns();
    std::string frame;
    char line[512];
    std::time_t t = std::time_t(now / 1'000'000'000u);
    std::tm tm{};
    localtime_r(&t, &tm);
    char clock[16];
    std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    std::snprintf(line, sizeof line, "agentbudget top: ledger %s, %zu active runs, $%s spent, %s\n", l->name().c_str(),
                  rows.size(), format_usd(total, 2).c_str(), clock);
    frame += line;
    std::snprintf(line, sizeof line, "%-32s %-10s %12s %10s %-28s %7s %10s\n", "RUN", "POLICY", "SPENT", "HARD",
                  "BUDGET", "CALLS", "$/MIN");
    frame += line;
    std::map<std::string, std::pair<Nanos, uint64_t>> seen;
    for (size_t i = 0; i < rows.size() && i < limit; ++i) {
      const TopRow& r = rows[i];
      Nanos load = r.st.spent + r.st.child_spent;
      // Rate: since the previous frame, else the average since the first charge.
      double per_min = 0;
      auto it = last.find(r.id);
      if (it != last.end() && now > it->second.second)
        per_min = double(load - it->second.first) / 1e9 / (double(now - it->second.second) / 60e9);
      else if (r.st.first_charge_unix_ns && now > r.st.first_charge_unix_ns + 1'000'000'000u)
        per_min = double(load) / 1e9 / (double(now - r.st.first_charge_unix_ns) / 60e9);
      seen[r.id] = {load, now};
      std::string b = bar(load, r.st.hard, 20);
      if (r.st.hard != kNoLimit && r.st.hard > 0)
        b += " " + std::to_string(int(std::min<double>(999, double(load) * 100.0 / double(r.st.hard)))) + "%";
      else
        b = "no limit";
      const char* color = "";
      if (tty && r.st.hard != kNoLimit)
        color = load >= r.st.hard ? "\033[31m" : load * 5 >= r.st.hard * 4 ? "\033[33m" : "";
      std::snprintf(line, sizeof line, "%-32.32s %-10.10s %12s %10s %s%-28s%s %7llu %10.4f\n", r.id.c_str(),
                    r.policy.c_str(), ("$" + format_usd(load, 4)).c_str(),
                    r.st.hard == kNoLimit ? "-" : ("$" + format_usd(r.st.hard, 2)).c_str(), color, b.c_str(),
                    *color ? "\033[0m" : "", (unsigned long long)r.st.calls, per_min);
      frame += line;
    }
    last = std::move(seen);
    if (tty) std::fputs("\033[H\033[2J", stdout);
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    if (once) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(interval * 1000)));
  }
}

}  // namespace

ControlCommands::ControlCommands(CLI::App& app, std::string& ledger, bool& json_out)
    : app_(app), ledger_(ledger), json_(json_out) {
  app.add_option("--socket", socket_,
                 "control socket (default: $AGENTBUDGET_SOCKET or the daemon's default for the ledger)");
  auto json_flag = [&](CLI::App* c) {
    c->add_flag("--json", json_, "print the daemon's raw JSON reply");
    c->add_option("--socket", socket_, "control socket path");
  };
  status_ = app.get_subcommand("status");
  json_flag(status_);
  runs_ = app.get_subcommand("runs");
  runs_->add_option("--state", state_, "active (default), closed or all")
      ->check(CLI::IsMember({"active", "closed", "all"}));
  runs_->add_option("--policy", policy_, "only runs of this policy");
  runs_->add_option("--prefix", prefix_, "only run ids starting with this");
  runs_->add_option("--sort", sort_, "spent (default), calls, id or recent")
      ->check(CLI::IsMember({"spent", "calls", "id", "recent"}));
  json_flag(runs_);

  run_ = app.add_subcommand("run", "one run in detail: counters, limits, holds, last denial, events");
  run_->add_option("id", id_, "run id")->required();
  json_flag(run_);
  pools_ = app.add_subcommand("pools", "pools and their current period");
  json_flag(pools_);

  set_ = app.add_subcommand("set", "change a limit live (admin): set policy|pool|run NAME --hard USD --soft 0.5,0.8");
  set_->add_option("target", target_, "policy, pool or run")
      ->required()
      ->check(CLI::IsMember({"policy", "pool", "run"}));
  set_->add_option("name", name_, "its name (run: its id)")->required();
  set_->add_option("--hard", hard_, "hard limit in USD, or 'none'");
  set_->add_option("--soft", soft_, "soft thresholds as fractions of the hard limit, e.g. 0.5,0.8 (policy, pool)");
  json_flag(set_);

  end_ = app.add_subcommand("end", "end a run for every process (admin)");
  end_->add_option("id", id_, "run id")->required();
  json_flag(end_);

  reset_ = app.add_subcommand("reset", "set a run's spend back (admin; audited like adjust)");
  reset_->add_option("id", id_, "run id")->required();
  reset_->add_option("--reason", reason_, "why (kept in the audit log)")->required();
  auto* to = reset_->add_option("--to", to_, "spend to set, USD (default 0)");
  reset_->add_option("--by", by_, "signed USD to add instead, e.g. -1.50")->excludes(to);
  json_flag(reset_);

  reload_ = app.add_subcommand("reload", "re-read the daemon's configuration file (admin)");
  json_flag(reload_);

  watch_ = app.add_subcommand("watch", "print events as the daemon delivers them");
  watch_->add_option("--count", count_, "exit after this many events");
  json_flag(watch_);

  history_ = app.add_subcommand("history", "delivered events (or closed runs) from the daemon's history");
  history_->add_option("--run", run_filter_, "only this run");
  history_->add_option("--pool", pool_filter_, "only this pool");
  history_->add_option("--kind", kind_, "only this event kind, e.g. hard_limit");
  history_->add_option("--policy", policy_, "closed runs of this policy (with --runs)");
  history_->add_flag("--runs", closed_runs_, "closed runs instead of events");
  history_->add_flag("--by-spend", by_spend_, "closed runs by spend (with --runs)");
  history_->add_option("--days", days_, "only the last N days")->check(CLI::PositiveNumber);
  history_->add_option("--limit", hist_limit_, "rows (default 50)")->check(CLI::Range(size_t(1), size_t(100000)));
  json_flag(history_);

  suggest_ = app.add_subcommand("suggest", "hard limits suggested by the closed runs' spend (p95 + margin)");
  suggest_->add_option("policy", policy_, "policy (default: all)");
  suggest_->add_option("--margin", margin_, "margin over p95 (default 0.2)")->check(CLI::Range(0.0, 10.0));
  suggest_->add_option("--days", days_, "only runs closed in the last N days")->check(CLI::PositiveNumber);
  json_flag(suggest_);

  top_ = app.add_subcommand("top", "live view of the busiest runs, read from the ledger");
  top_->add_option("--interval", interval_, "seconds between frames (default 1)")->check(CLI::Range(0.1, 3600.0));
  top_->add_flag("--once", once_, "print one frame and exit");
  top_->add_option("--limit", top_limit_, "rows (default 20)")->check(CLI::Range(size_t(1), size_t(100000)));
}

bool ControlCommands::dispatch(int* rc) {
  CLI::App* chosen = nullptr;
  for (CLI::App* c : {status_, runs_, run_, pools_, set_, end_, reset_, reload_, watch_, history_, suggest_, top_})
    if (c && c->parsed()) chosen = c;
  if (!chosen) return false;
  const std::string name = chosen->get_name();
  // `runs --limit` belongs to main's existing option: read it back here.
  auto runs_limit = [&] {
    CLI::Option* o = runs_->get_option("--limit");
    return o->count() ? o->as<size_t>() : size_t(50);
  };
  if (chosen == top_) {
    *rc = run_top(ledger_, interval_, once_, top_limit_);
    return true;
  }

  json req = {{"cmd", name}};
  if (chosen == runs_) {
    bool closed = runs_->get_option("--closed")->count() > 0;
    if (!state_.empty())
      req["state"] = state_;
    else if (closed)
      req["state"] = "all";
    if (!policy_.empty()) req["policy"] = policy_;
    if (!prefix_.empty()) req["prefix"] = prefix_;
    req["sort"] = sort_;
    req["limit"] = runs_limit();
  } else if (chosen == run_ || chosen == end_) {
    req["id"] = id_;
  } else if (chosen == set_) {
    req["target"] = target_;
    req["name"] = name_;
    if (!hard_.empty()) req["hard"] = hard_;
    if (!soft_.empty()) {
      json fr = json::array();
      size_t start = 0;
      while (start <= soft_.size()) {
        size_t comma = soft_.find(',', start);
        std::string part = soft_.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        char* end = nullptr;
        double v = std::strtod(part.c_str(), &end);
        if (part.empty() || !end || *end) {
          std::cerr << "agentbudgetctl set: --soft '" << soft_ << "' is not a list of fractions such as 0.5,0.8\n";
          *rc = 2;
          return true;
        }
        fr.push_back(v);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      req["soft"] = fr;
    }
    if (hard_.empty() && soft_.empty()) {
      std::cerr << "agentbudgetctl set: give --hard and/or --soft\n";
      *rc = 2;
      return true;
    }
  } else if (chosen == reset_) {
    req["id"] = id_;
    req["reason"] = reason_;
    if (!to_.empty()) req["to"] = to_;
    if (!by_.empty()) req["delta"] = by_;
  } else if (chosen == history_) {
    if (closed_runs_) req["what"] = "runs";
    if (!run_filter_.empty()) req["run"] = run_filter_;
    if (!pool_filter_.empty()) req["pool"] = pool_filter_;
    if (!kind_.empty()) req["kind"] = kind_;
    if (!policy_.empty()) req["policy"] = policy_;
    if (by_spend_) req["by_spend"] = true;
    if (days_ > 0) req["since_unix_ns"] = since_days(days_);
    req["limit"] = hist_limit_;
  } else if (chosen == suggest_) {
    if (!policy_.empty()) req["policy"] = policy_;
    req["margin"] = margin_;
    if (days_ > 0) req["since_unix_ns"] = since_days(days_);
  }

  const std::string path = resolve_socket_path(socket_, resolve_ledger_name(ledger_));
  ControlClient client;
  std::string err;
  if (!client.connect(path, &err)) {
    // status and runs can still be read from the ledger itself.
    if (chosen == status_ || chosen == runs_) {
      std::cerr << "agentbudgetctl: " << err << "; reading the ledger directly\n";
      *rc = chosen == status_ ? show_status(ledger_, json_)
                              : show_runs(ledger_, json_, req.value("state", "active") != "active", runs_limit());
      return true;
    }
    std::cerr << "agentbudgetctl " << name << ": " << err << "\n";
    *rc = 3;
    return true;
  }
  json reply;
  if (!client.request(req, &reply, &err)) {
    std::cerr << "agentbudgetctl " << name << ": " << err << "\n";
    *rc = 3;
    return true;
  }
  if (json_) std::cout << reply.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  if (!reply.value("ok", false)) {
    if (!json_) std::cerr << "agentbudgetctl " << name << ": " << str_of(reply, "error") << "\n";
    *rc = 1;
    return true;
  }
  *rc = 0;
  if (chosen == watch_) {
    if (!json_) std::cerr << "watching events on " << path << " (Ctrl-C to stop)\n";
    for (size_t seen = 0; count_ == 0 || seen < count_; ++seen) {
      std::string line;
      if (!client.read_line(&line, &err)) {
        std::cerr << "agentbudgetctl watch: " << err << "\n";
        return *rc = 3, true;
      }
      json e = json::parse(line, nullptr, false);
      if (json_) {
        std::cout << line << "\n" << std::flush;
      } else if (e.is_object() && e.contains("ok") && !e.value("ok", true)) {
        std::cerr << "agentbudgetctl watch: " << str_of(e, "error") << "\n";
        return *rc = 1, true;
      } else {
        std::cout << time_of(e.value("unix_ns", 0ull)) << " " << str_of(e, "summary") << "\n" << std::flush;
      }
      if (e.is_object() && e.contains("ok") && !e.value("ok", true)) return *rc = 1, true;
    }
    return true;
  }
  if (json_) return true;

  if (chosen == status_) {
    print_status(reply);
  } else if (chosen == runs_) {
    print_runs_table(reply["runs"]);
    if (reply.value("total", size_t(0)) > reply["runs"].size())
      std::printf("(%zu of %zu runs)\n", reply["runs"].size(), reply.value("total", size_t(0)));
  } else if (chosen == run_) {
    print_run(reply);
  } else if (chosen == pools_) {
    print_pools(reply["pools"]);
  } else if (chosen == set_) {
    auto limit = [](const json& n) { return n.is_null() ? std::string("none") : usd_of(n); };
    if (reply.contains("previous"))
      std::printf("%s %s: hard %s -> %s, soft %s -> %s\n", target_.c_str(), name_.c_str(),
                  limit(reply["previous"]["hard_nanos"]).c_str(), limit(reply["now"]["hard_nanos"]).c_str(),
                  reply["previous"]["soft_permille"].dump().c_str(), reply["now"]["soft_permille"].dump().c_str());
    else
      std::printf("run %s: hard %s -> %s\n", name_.c_str(), limit(reply["previous_hard_nanos"]).c_str(),
                  limit(reply["hard_nanos"]).c_str());
  } else if (chosen == end_) {
    std::printf("%s run %s (spent %s)\n", reply.value("was_active", false) ? "ended" : "already ended:", id_.c_str(),
                usd_of(reply["spent_nanos"], 4).c_str());
  } else if (chosen == reset_) {
    std::printf("run %s: spent %s -> %s (audit: %s)\n", id_.c_str(), usd_of(reply["spent_before_nanos"], 4).c_str(),
                usd_of(reply["spent_after_nanos"], 4).c_str(), str_of(reply, "audit_log").c_str());
  } else if (chosen == reload_) {
    std::printf("reloaded %s (config version %llu)\n", str_of(reply, "config_source").c_str(),
                (unsigned long long)reply.value("config_version", 0ull));
  } else if (chosen == history_) {
    if (reply.contains("runs")) {
      std::printf("%-40s %-12s %12s %12s %8s %s\n", "RUN", "POLICY", "SPENT", "HARD", "CALLS", "CLOSED");
      for (auto& r : reply["runs"])
        std::printf("%-40.40s %-12.12s %12s %12s %8llu %s\n", str_of(r, "run_id").c_str(), str_of(r, "policy").c_str(),
                    usd_of(r["spent_nanos"], 4).c_str(), usd_of(r["hard_nanos"]).c_str(),
                    (unsigned long long)r.value("calls", 0ull), time_of(r.value("closed_unix_ns", 0ull)).c_str());
    } else {
      std::printf("%-19s %-22s %-40s %12s\n", "TIME", "KIND", "RUN / POOL", "SPENT");
      for (auto& e : reply["events"])
        std::printf("%-19s %-22s %-40.40s %12s\n", time_of(e.value("unix_ns", 0ull)).c_str(), str_of(e, "kind").c_str(),
                    (e.contains("run_id") ? str_of(e, "run_id") : str_of(e, "pool")).c_str(),
                    usd_of(e["spent_nanos"], 4).c_str());
    }
  } else if (chosen == suggest_) {
    for (auto& s : reply["suggestions"]) std::printf("%s\n", str_of(s, "text").c_str());
  }
  return true;
}

}  // namespace ab
