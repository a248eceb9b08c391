#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "event.h"
#include "labels.h"
#include "money.h"
#include "period_starts.h"
#include "segment.h"

namespace ab {

DaemonConfig builtin_default_config() {
  DaemonConfig c;
  PolicyConfig p;
  p.name = "default";
  p.soft_permille = {500, 800};
  c.policies.push_back(p);
  return c;
}

namespace {

struct Reporter {
  std::string file;
  std::vector<std::string>* errors;
  void at(const toml::node* n, const std::string& key, const std::string& what) {
    std::ostringstream o;
    o << file;
    if (n) o << ":" << n->source().begin.line;
    o << ": " << key << ": " << what;
    errors->push_back(o.str());
  }
};

// Money as a decimal string ("2.50") or a number (2.5); exact either way
// because numbers are re-read from their shortest decimal form.
bool read_usd(const toml::node& n, Nanos* out) {
  if (auto s = n.value<std::string>()) {
    auto v = parse_usd(*s);
    if (!v || *v > kMaxLimitNanos) return false;
    *out = *v;
    return true;
  }
  if (n.is_integer()) {
    int64_t i = *n.value<int64_t>();
    if (i < 0 || i > kMaxLimitNanos / kNanosPerUsd) return false;
    *out = i * kNanosPerUsd;
    return true;
  }
  if (n.is_floating_point()) {
    std::ostringstream o;
    o.precision(15);
    o << *n.value<double>();
    auto v = parse_usd(o.str(), true);
    if (!v || *v > kMaxLimitNanos) return false;
    *out = *v;
    return true;
  }
  return false;
}

// Soft thresholds: an array of at most `max` fractions of the hard limit in
// (0, 1], kept as permilles.
void read_fractions(const toml::node& v, Reporter& r, const std::string& key, int max, std::vector<uint32_t>* out) {
  auto* arr = v.as_array();
  if (!arr || arr->size() > size_t(max)) {
    r.at(&v, key,
         "must be an array of at most " + std::to_string(max) + " fractions of the hard limit, e.g. [0.5, 0.8]");
    return;
  }
  out->clear();
  for (auto& e : *arr) {
    auto d = e.value<double>();
    if (!d || !(*d > 0) || *d > 1.0)
      r.at(&e, key, "each fraction must be in (0, 1]");
    else
      out->push_back(uint32_t(std::lround(*d * 1000)));
  }
}

// "SIGTERM" or "TERM" -> SIGTERM; -1 if not a signal a policy may send.
int signal_from_name(std::string name) {
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  static const std::pair<const char*, int> kSignals[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"KILL", SIGKILL},
                                                         {"HUP", SIGHUP},   {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
                                                         {"QUIT", SIGQUIT}};
  for (auto& [n, sig] : kSignals)
    if (name == n) return sig;
  return -1;
}

bool read_uint(const toml::node& v, int64_t lo, int64_t hi, uint64_t* out) {
  auto i = v.value<int64_t>();
  if (!i || *i < lo || *i > hi) return false;
  *out = uint64_t(*i);
  return true;
}

void read_event_filter(const toml::node& v, Reporter& r, const std::string& key, EventFilter* out) {
  auto* arr = v.as_array();
  if (!arr) {
    r.at(&v, key, "must be an array of event names such as [\"hard_limit\", \"soft_threshold\"]");
    return;
  }
  for (auto& e : *arr) {
    auto s = e.value<std::string>();
    EventKind kind;
    if (!s || !event_kind_from_name(*s, &kind))
      r.at(&e, key, "unknown event name");
    else
      out->push_back(*s);
  }
}

void read_exec_sink(const toml::table& t, Reporter& r, ExecSinkConfig* x, const std::string& where) {
  for (auto&& [k, v] : t) {
    std::string key = where + "." + std::string(k.str());
    uint64_t u = 0;
    if (k == "command") {
      auto s = v.value<std::string>();
      if (!s || s->empty())
        r.at(&v, key, "must be a shell command");
      else
        x->command = *s;
    } else if (k == "timeout_ms") {
      if (!read_uint(v, 1, 600'000, &u))
        r.at(&v, key, "must be 1-600000 milliseconds");
      else
        x->timeout_ms = uint32_t(u);
    } else if (k == "events") {
      read_event_filter(v, r, key, &x->events);
    } else {
      r.at(&v, key, "unknown key");
    }
  }
  if (x->command.empty() && !t.contains("command")) r.at(&t, where + ".command", "an exec sink needs a command");
}

void read_webhook(const toml::table& t, Reporter& r, WebhookConfig* w, const std::string& where) {
  for (auto&& [k, v] : t) {
    std::string key = where + "." + std::string(k.str());
    uint64_t u = 0;
    if (k == "url") {
      auto s = v.value<std::string>();
      if (!s || s->rfind("http://", 0) != 0 || s->size() <= 7)
        r.at(&v, key, "must be an http:// URL such as \"http://127.0.0.1:8080/hook\"");
      else
        w->url = *s;
    } else if (k == "timeout_ms") {
      if (!read_uint(v, 1, 600'000, &u))
        r.at(&v, key, "must be 1-600000 milliseconds");
      else
        w->timeout_ms = uint32_t(u);
    } else if (k == "retries") {
      if (!read_uint(v, 0, 100, &u))
        r.at(&v, key, "must be 0-100");
      else
        w->retries = uint32_t(u);
    } else if (k == "backoff_ms") {
      if (!read_uint(v, 1, 600'000, &u))
        r.at(&v, key, "must be 1-600000 milliseconds");
      else
        w->backoff_ms = uint32_t(u);
    } else if (k == "events") {
      read_event_filter(v, r, key, &w->events);
    } else {
      r.at(&v, key, "unknown key");
    }
  }
  if (w->url.empty() && !t.contains("url")) r.at(&t, where + ".url", "a webhook needs a url");
}

void read_notify(const toml::table& t, Reporter& r, NotifyConfig* n) {
  for (auto&& [k, v] : t) {
    std::string key = "notify." + std::string(k.str());
    if (k == "log") {
      auto b = v.value<bool>();
      if (!b)
        r.at(&v, key, "must be true or false");
      else
        n->log = *b;
    } else if (k == "exec" || k == "webhook") {
      auto* arr = v.as_array();
      if (!arr || arr->size() > 16) {
        r.at(&v, key, "must be an array of at most 16 [[" + key + "]] tables");
        continue;
      }
      for (size_t i = 0; i < arr->size(); ++i) {
        auto* st = (*arr)[i].as_table();
        std::string where = key + "[" + std::to_string(i) + "]";
        if (!st) {
          r.at(&(*arr)[i], where, "must be a table");
          continue;
        }
        if (k == "exec")
          read_exec_sink(*st, r, &n->exec.emplace_back(), where);
        else
          read_webhook(*st, r, &n->webhooks.emplace_back(), where);
      }
    } else {
      r.at(&v, key, "unknown key");
    }
  }
}

void read_control(const toml::table& t, Reporter& r, ControlConfig* c) {
  for (auto&& [k, v] : t) {
    std::string key = "control." + std::string(k.str());
    if (k == "socket") {
      auto s = v.value<std::string>();
      if (!s || s->empty() || (*s)[0] != '/' || s->size() > 100)
        r.at(&v, key, "must be an absolute path of at most 100 characters");
      else
        c->socket = *s;
    } else if (k == "mode") {
      // "0660" as a string (TOML has no octal strings in most editors' minds) or 0o660.
      auto s = v.value<std::string>();
      auto i = v.value<int64_t>();
      char* end = nullptr;
      long m = s ? std::strtol(s->c_str(), &end, 8) : i ? long(*i) : -1;
      if ((s && (s->empty() || *end)) || m < 0 || m > 0777)
        r.at(&v, key, "must be a file mode such as \"0660\"");
      else
        c->mode = uint32_t(m);
    } else if (k == "admin_group") {
      auto s = v.value<std::string>();
      if (!s)
        r.at(&v, key, "must be a group name (empty: root only)");
      else
        c->admin_group = *s;
    } else {
      r.at(&v, key, "unknown key");
    }
  }
}

void read_metrics(const toml::table& t, Reporter& r, MetricsConfig* m) {
  for (auto&& [k, v] : t) {
    std::string key = "metrics." + std::string(k.str());
    if (k == "listen") {
      auto s = v.value<std::string>();
      auto colon = s ? s->rfind(':') : std::string::npos;
      uint64_t port = 0;
      bool ok = s && (s->empty() || (colon != std::string::npos && colon > 0 &&
                                     std::all_of(s->begin() + long(colon) + 1, s->end(), ::isdigit) &&
                                     colon + 1 < s->size() && colon + 7 > s->size()));
      if (ok && s && !s->empty()) port = std::stoull(s->substr(colon + 1));
      std::string host = ok && s && !s->empty() ? s->substr(0, colon) : "";
      if (!ok || (s && !s->empty() && (port == 0 || port > 65535)))
        r.at(&v, key, "must be HOST:PORT such as \"127.0.0.1:9464\" (empty: off)");
      else if (!host.empty() && host != "127.0.0.1" && host != "localhost" && host != "::1" && host != "[::1]")
        r.at(&v, key, "must be a loopback address: metrics are not authenticated");
      else
        m->listen = *s;
    } else {
      r.at(&v, key, "unknown key");
    }
  }
}

void read_policy(const toml::table& t, Reporter& r, PolicyConfig* p, const std::string& where) {
  for (auto&& [k, v] : t) {
    std::string key = where + "." + std::string(k.str());
    if (k == "name") {
      auto s = v.value<std::string>();
      if (!s || s->empty() || s->size() > 63)
        r.at(&v, key, "must be a string of 1-63 characters");
      else
        p->name = *s;
    } else if (k == "hard") {
      if (!read_usd(v, &p->hard))
        r.at(&v, key, "must be a USD amount from 0 to 1000000000 with at most 9 decimals, such as \"2.50\"");
    } else if (k == "soft") {
      // Three at most: the fourth slot is the caller's own soft threshold.
      read_fractions(v, r, key, kMaxSoftThresholds - 1, &p->soft_permille);
    } else if (k == "unknown_model") {
      auto s = v.value<std::string>();
      if (s && *s == "deny")
        p->unknown_model = UnknownModel::kDeny;
      else if (s && *s == "fallback")
        p->unknown_model = UnknownModel::kFallback;
      else
        r.at(&v, key, "must be \"deny\" or \"fallback\"");
    } else if (k == "fallback_input_per_mtok" || k == "fallback_output_per_mtok") {
      Nanos per_m = 0;
      if (!read_usd(v, &per_m) || per_m == 0)
        r.at(&v, key, "must be a USD price per 1M tokens above 0 such as \"15.00\" (unknown models are never free)");
      // USD per 1M tokens in nanos equals femto-USD per token.
      else
        (k == "fallback_input_per_mtok" ? p->fallback_input : p->fallback_output) = per_m;
    } else if (k == "max_calls" || k == "max_tokens" || k == "max_duration_s" || k == "hold_lease_s") {
      auto i = v.value<int64_t>();
      if (!i || *i < 0 || *i > int64_t(1) << 40) {
        r.at(&v, key, "must be a whole number from 0 (unlimited) to 2^40");
        continue;
      }
      uint64_t u = uint64_t(*i);
      if (k == "max_calls")
        p->max_calls = u;
      else if (k == "max_tokens")
        p->max_tokens = u;
      else if (k == "max_duration_s")
        p->max_duration_s = u;
      else
        p->hold_lease_s = u;
    } else if (k == "on_hard_signal") {
      auto str = v.value<std::string>();
      int sig = str ? signal_from_name(*str) : -1;
      if (sig < 0)
        r.at(&v, key, "must be a signal name such as \"SIGTERM\", \"SIGINT\" or \"SIGKILL\"");
      else
        p->on_hard_signal = sig;
    } else if (k == "max_in_flight" || k == "loop_limit") {
      auto i = v.value<int64_t>();
      if (!i || *i < 0 || *i > 65535 || (k == "loop_limit" && *i == 1)) {
        r.at(&v, key, k == "loop_limit" ? "must be 0 (off) or 2-65535" : "must be 0 (unlimited) to 65535");
        continue;
      }
      (k == "max_in_flight" ? p->max_in_flight : p->loop_limit) = uint32_t(*i);
    } else if (k == "pools") {
      auto* arr = v.as_array();
      if (!arr || arr->size() > size_t(kMaxRunPools)) {
        r.at(&v, key, "must be an array of at most 4 pool names");
        continue;
      }
      for (auto& e : *arr) {
        auto n = e.value<std::string>();
        if (!n)
          r.at(&e, key, "each entry must be a pool name");
        else if (std::find(p->pools.begin(), p->pools.end(), *n) != p->pools.end())
          r.at(&e, key, "pool \"" + *n + "\" is listed twice");
        else
          p->pools.push_back(*n);
      }
    } else if (k == "match") {
      auto* mt = v.as_table();
      if (!mt || mt->size() > size_t(kMaxPolicyMatches)) {
        r.at(&v, key, "must be a table of at most 4 label = \"value\" pairs");
        continue;
      }
      for (auto&& [mk, mv] : *mt) {
        auto s = mv.value<std::string>();
        if (!valid_label_key(mk.str()))
          r.at(&mv, key + "." + std::string(mk.str()), "label keys are 1-31 of [a-z0-9_.-]");
        else if (!s || (*s != "*" && !valid_label_value(*s)))
          r.at(&mv, key + "." + std::string(mk.str()),
               "must be a label value (1-63 printable characters, no space, ',' or '='), or \"*\" for any");
        else
          p->matches.emplace_back(std::string(mk.str()), *s);
      }
    } else {
      r.at(&v, key, "unknown key");
    }
  }
  if (p->name.empty()) r.at(&t, where, "a policy needs a name");
}

void read_pool(const toml::table& t, Reporter& r, PoolConfig* p, const std::string& where) {
  for (auto&& [k, v] : t) {
    std::string key = where + "." + std::string(k.str());
    if (k == "name") {
      auto s = v.value<std::string>();
      if (!s || s->empty() || s->size() > 63)
        r.at(&v, key, "must be a string of 1-63 characters");
      else
        p->name = *s;
    } else if (k == "hard") {
      if (!read_usd(v, &p->hard))
        r.at(&v, key, "must be a USD amount from 0 to 1000000000 with at most 9 decimals, such as \"100.00\"");
    } else if (k == "soft") {
      read_fractions(v, r, key, kMaxSoftThresholds, &p->soft_permille);
    } else if (k == "period") {
      auto s = v.value<std::string>();
      if (!s || (*s != "none" && *s != "rolling" && *s != "day" && *s != "week" && *s != "month"))
        r.at(&v, key, "must be \"none\", \"rolling\", \"day\", \"week\" or \"month\"");
      else
        p->period = *s;
    } else if (k == "rolling_s") {
      auto i = v.value<int64_t>();
      if (!i || *i < 1 || *i > int64_t(1) << 40)
        r.at(&v, key, "must be a number of seconds from 1 to 2^40");
      else
        p->rolling_s = uint64_t(*i);
    } else if (k == "timezone") {
      auto s = v.value<std::string>();
      if (!s || !valid_timezone(*s))
        r.at(&v, key, "must be an IANA time zone such as \"Europe/Paris\" or \"UTC\"");
      else
        p->timezone = *s;
    } else {
      r.at(&v, key, "unknown key");
    }
  }
  if (p->name.empty()) r.at(&t, where, "a pool needs a name");
  if (p->period == "rolling" && p->rolling_s == 0 && !t.contains("rolling_s"))
    r.at(&t, where + ".rolling_s", "a rolling period needs rolling_s");
  if (p->period != "rolling" && t.contains("rolling_s"))
    r.at(t.get("rolling_s"), where + ".rolling_s", "only for period = \"rolling\"");
  if (p->period != "day" && p->period != "week" && p->period != "month" && t.contains("timezone"))
    r.at(t.get("timezone"), where + ".timezone", "only for period = \"day\", \"week\" or \"month\"");
}

}  // namespace

bool parse_config(const std::string& text, const std::string& file, DaemonConfig* out,
                  std::vector<std::string>* errors) {
  errors->clear();
  Reporter r{file, errors};
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << file << ":" << e.source().begin.line << ": syntax: " << e.description();
    errors->push_back(o.str());
    return false;
  }
  DaemonConfig c = builtin_default_config();
  c.source = file;
  bool policies_given = false;
  for (auto&& [k, v] : root) {
    std::string key(k.str());
    if (k == "ledger") {
      auto s = v.value<std::string>();
      if (!s || !valid_ledger_name(*s))
        r.at(&v, key, "must be 1-200 of [A-Za-z0-9_.-]");
      else
        c.ledger = *s;
    } else if (k == "run_capacity") {
      auto i = v.value<int64_t>();
      if (!i || *i < 16 || *i > int64_t(kMaxRunCapacity) || (*i & (*i - 1)) != 0)
        r.at(&v, key, "must be a power of two between 16 and 16777216");
      else
        c.run_capacity = uint32_t(*i);
    } else if (k == "hold_capacity") {
      auto i = v.value<int64_t>();
      if (!i || *i < 16 || *i > int64_t(kMaxRunCapacity))
        r.at(&v, key, "must be between 16 and 16777216");
      else
        c.hold_capacity = uint32_t(*i);
    } else if (k == "group") {
      auto s = v.value<std::string>();
      if (!s)
        r.at(&v, key, "must be a group name");
      else {
        c.group = *s;
        c.group_required = !s->empty();
      }
    } else if (k == "price_table") {
      auto s = v.value<std::string>();
      if (!s || s->empty())
        r.at(&v, key, "must be a path to a LiteLLM price JSON file");
      else
        c.price_table = *s;
    } else if (k == "closed_run_grace_s") {
      auto i = v.value<int64_t>();
      if (!i || *i < 1 || *i > 86400 * 365)
        r.at(&v, key, "must be 1 second to 1 year");
      else
        c.closed_run_grace_s = uint64_t(*i);
    } else if (k == "tick_ms") {
      auto i = v.value<int64_t>();
      if (!i || *i < 1 || *i > 10000)
        r.at(&v, key, "must be 1-10000");
      else
        c.tick_ms = uint32_t(*i);
    } else if (k == "state_dir") {
      auto s = v.value<std::string>();
      if (!s || s->empty() || (*s)[0] != '/')
        r.at(&v, key, "must be an absolute directory path");
      else
        c.state_dir = *s;
    } else if (k == "snapshot_interval_ms") {
      uint64_t u = 0;
      if (!read_uint(v, 10, 3'600'000, &u))
        r.at(&v, key, "must be 10-3600000 milliseconds");
      else
        c.snapshot_interval_ms = uint32_t(u);
    } else if (k == "forecast_min_age_s") {
      uint64_t u = 0;
      if (!read_uint(v, 1, 86400, &u))
        r.at(&v, key, "must be 1-86400 seconds");
      else
        c.forecast_min_age_s = u;
    } else if (k == "forecast_horizon_s") {
      uint64_t u = 0;
      if (!read_uint(v, 1, 86400 * 366, &u))
        r.at(&v, key, "must be 1 second to 366 days");
      else
        c.forecast_horizon_s = u;
    } else if (k == "notify" || k == "control" || k == "metrics") {
      auto* t = v.as_table();
      if (!t)
        r.at(&v, key, "must be a table [" + key + "]");
      else if (k == "notify")
        read_notify(*t, r, &c.notify);
      else if (k == "control")
        read_control(*t, r, &c.control);
      else
        read_metrics(*t, r, &c.metrics);
    } else if (k == "pool") {
      auto* arr = v.as_array();
      if (!arr || arr->size() > size_t(kMaxPools)) {
        r.at(&v, key, "must be an array of at most 64 [[pool]] tables");
        continue;
      }
      std::set<std::string> names;
      for (size_t i = 0; i < arr->size(); ++i) {
        auto* t = (*arr)[i].as_table();
        std::string where = "pool[" + std::to_string(i) + "]";
        if (!t) {
          r.at(&(*arr)[i], where, "must be a table");
          continue;
        }
        PoolConfig p;
        read_pool(*t, r, &p, where);
        if (!p.name.empty() && !names.insert(p.name).second) r.at(t, where + ".name", "duplicate pool name");
        c.pools.push_back(std::move(p));
      }
    } else if (k == "policy") {
      auto* arr = v.as_array();
      if (!arr || arr->empty() || arr->size() > size_t(kMaxPolicies)) {
        r.at(&v, key, "must be an array of 1-64 [[policy]] tables");
        continue;
      }
      policies_given = true;
      c.policies.clear();
      std::set<std::string> names;
      for (size_t i = 0; i < arr->size(); ++i) {
        auto* t = (*arr)[i].as_table();
        std::string where = "policy[" + std::to_string(i) + "]";
        if (!t) {
          r.at(&(*arr)[i], where, "must be a table");
          continue;
        }
        PolicyConfig p;
        read_policy(*t, r, &p, where);
        if (!p.name.empty() && !names.insert(p.name).second) r.at(t, where + ".name", "duplicate policy name");
        c.policies.push_back(std::move(p));
      }
    } else {
      r.at(&v, key, "unknown key");
    }
  }
  // Every pool a policy names must exist.
  if (auto* arr = root["policy"].as_array()) {
    for (size_t i = 0; i < c.policies.size() && i < arr->size(); ++i)
      for (auto& name : c.policies[i].pools) {
        bool found = false;
        for (auto& p : c.pools) found = found || p.name == name;
        if (!found) {
          auto* t = (*arr)[i].as_table();
          r.at(t ? t->get("pools") : nullptr, "policy[" + std::to_string(i) + "].pools",
               "no [[pool]] named \"" + name + "\"");
        }
      }
  }
  if (policies_given) {
    // Policy 0 applies to runs no other policy matches: the one named
    // "default", else the built-in default (no limits) -- never a policy
    // written for some other kind of run.
    auto it = std::find_if(c.policies.begin(), c.policies.end(), [](auto& p) { return p.name == "default"; });
    if (it == c.policies.end()) {
      if (c.policies.size() == size_t(kMaxPolicies)) r.at(nullptr, "policy", "at most 63 policies besides \"default\"");
      c.policies.insert(c.policies.begin(), builtin_default_config().policies[0]);
    } else {
      std::rotate(c.policies.begin(), it, it + 1);
    }
  }
  if (!errors->empty()) return false;
  *out = std::move(c);
  return true;
}

// systemd sets these (they may list several folders, ':'-separated).
static std::string systemd_dir(const char* var) {
  const char* d = std::getenv(var);
  return d && *d ? std::string(d, strcspn(d, ":")) : std::string();
}

// A user who is not root cannot write /var/lib or /run: their own folders.
static std::string user_dir(const char* xdg_var, const char* home_suffix) {
  const char* x = std::getenv(xdg_var);
  if (x && *x) return std::string(x) + "/agentbudget";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + home_suffix;
}

std::string default_state_dir() {
  if (std::string d = systemd_dir("STATE_DIRECTORY"); !d.empty()) return d;
  return geteuid() == 0 ? "/var/lib/agentbudget" : user_dir("XDG_STATE_HOME", "/.local/state/agentbudget");
}

std::string default_control_socket(const std::string& ledger) {
  std::string dir = systemd_dir("RUNTIME_DIRECTORY");
  if (dir.empty()) dir = geteuid() == 0 ? "/run/agentbudget" : user_dir("XDG_RUNTIME_DIR", "/.cache/agentbudget");
  return dir + "/" + ledger + ".sock";
}

static std::string state_dir_of(const DaemonConfig& c) {
  return c.state_dir.empty() ? default_state_dir() : c.state_dir;
}
std::string snapshot_path(const DaemonConfig& c) { return state_dir_of(c) + "/" + c.ledger + ".snapshot"; }
std::string history_path(const DaemonConfig& c) { return state_dir_of(c) + "/" + c.ledger + ".history.db"; }
std::string control_socket_path(const DaemonConfig& c) {
  return c.control.socket.empty() ? default_control_socket(c.ledger) : c.control.socket;
}

bool load_config_file(const std::string& path, DaemonConfig* out, std::vector<std::string>* errors) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    errors->assign(1, path + ": is a directory, not a configuration file");
    return false;
  }
  std::ifstream in(path);
  if (!in) {
    errors->assign(1, path + ": cannot read the file");
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, out, errors);
}

}  // namespace ab
