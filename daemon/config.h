// agentbudgetd's configuration: the built-in default, or a TOML file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layout.h"

namespace ab {

struct PolicyConfig {
  std::string name;
  Nanos hard = kNoLimit;
  std::vector<uint32_t> soft_permille;  // of the hard limit
  UnknownModel unknown_model = UnknownModel::kFallback;
  Femtos fallback_input = 15'000'000'000;   // $15 / 1M tokens
  Femtos fallback_output = 75'000'000'000;  // $75 / 1M tokens
  std::vector<std::pair<std::string, std::string>> matches;
  uint64_t max_calls = 0;  // 0 = unlimited, for all of these
  uint64_t max_tokens = 0;
  uint64_t max_duration_s = 0;
  uint32_t max_in_flight = 0;
  uint32_t loop_limit = 0;
  uint64_t hold_lease_s = 600;     // holds older than this are reclaimed
  std::vector<std::string> pools;  // names of [[pool]]s this policy's runs belong to
  int on_hard_signal = 0;          // signal sent to the run's processes when it reaches its hard limit; 0 = none
  bool retired = false;            // removed by a reload; its segment entry is kept for existing runs
};

struct PoolConfig {
  std::string name;
  Nanos hard = kNoLimit;
  std::vector<uint32_t> soft_permille;
  std::string period = "none";   // none, rolling, day, week, month
  uint64_t rolling_s = 0;        // for "rolling"
  std::string timezone = "UTC";  // for day, week (starting Monday) and month
  bool retired = false;          // removed by a reload; its segment entry is kept for existing runs
};

// A notification sink's filter: event kind names (event_kind_name); empty = all.
using EventFilter = std::vector<std::string>;

// Runs `command` with /bin/sh -c for each event: AB_EVENT_* variables in its
// environment, the event as one JSON object on its stdin.
struct ExecSinkConfig {
  std::string command;
  uint32_t timeout_ms = 5000;  // then SIGKILL
  EventFilter events;
  bool operator==(const ExecSinkConfig&) const = default;
};

// POSTs each event as JSON; retries with exponential backoff.
struct WebhookConfig {
  std::string url;             // http://host:port/path
  uint32_t timeout_ms = 2000;  // per attempt
  uint32_t retries = 5;        // attempts after the first
  uint32_t backoff_ms = 250;   // doubled after every failed attempt
  EventFilter events;
  bool operator==(const WebhookConfig&) const = default;
};

struct NotifyConfig {
  bool log = true;
  std::vector<ExecSinkConfig> exec;
  std::vector<WebhookConfig> webhooks;
  bool operator==(const NotifyConfig&) const = default;
};

struct ControlConfig {
  std::string socket;  // empty: default_control_socket(ledger)
  uint32_t mode = 0660;
  std::string admin_group = "agentbudget-admin";  // peers in it (and root) may change things
};

struct MetricsConfig {
  std::string listen;  // "127.0.0.1:9464"; empty = no metrics endpoint
};

struct DaemonConfig {
  std::string source = "<built-in default>";
  std::string ledger = "agentbudget";
  uint32_t run_capacity = kDefaultRunCapacity;
  uint32_t hold_capacity = kDefaultRunCapacity;
  std::string group = "agentbudget";  // clients' group; used if it exists
  bool group_required = false;        // true when the file names one explicitly
  std::string price_table;            // empty: the bundled table
  uint32_t tick_ms = 100;
  uint64_t closed_run_grace_s = 60;  // an ended run's slot is reused after this
  std::string state_dir;             // empty: default_state_dir()
  uint32_t snapshot_interval_ms = 1000;
  uint64_t forecast_min_age_s = 30;   // a run must have spent this long before it is forecast
  uint64_t forecast_horizon_s = 900;  // forecast horizon of runs without max duration, pools without period
  NotifyConfig notify;
  ControlConfig control;
  MetricsConfig metrics;
  std::vector<PolicyConfig> policies;  // [0] is the default policy
  std::vector<PoolConfig> pools;
};

// $STATE_DIRECTORY (set by systemd), else /var/lib/agentbudget for root,
// else $XDG_STATE_HOME/agentbudget or ~/.local/state/agentbudget.
std::string default_state_dir();
// $RUNTIME_DIRECTORY (set by systemd), else /run/agentbudget for root, else
// $XDG_RUNTIME_DIR/agentbudget or ~/.cache/agentbudget; then "/LEDGER.sock".
std::string default_control_socket(const std::string& ledger);
// Where this configuration keeps its files.
std::string snapshot_path(const DaemonConfig& c);  // STATE_DIR/LEDGER.snapshot
std::string history_path(const DaemonConfig& c);   // STATE_DIR/LEDGER.history.db
std::string control_socket_path(const DaemonConfig& c);

// The configuration agentbudgetd runs with when given no file.
DaemonConfig builtin_default_config();

// Parses TOML text. On error returns false and fills `errors` with one line
// per problem: "FILE:LINE: key: what is wrong". Nothing partial is returned.
bool parse_config(const std::string& text, const std::string& file, DaemonConfig* out,
                  std::vector<std::string>* errors);
bool load_config_file(const std::string& path, DaemonConfig* out, std::vector<std::string>* errors);

}  // namespace ab
