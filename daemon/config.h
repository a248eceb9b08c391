// agentbudgetd's configuration: the built-in default, or a TOML file.
// (Live reload and the full option table build on this.)
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
  uint64_t max_calls = 0;       // 0 = unlimited, for all of these
  uint64_t max_tokens = 0;
  uint64_t max_duration_s = 0;
  uint32_t max_in_flight = 0;
  uint32_t loop_limit = 0;
  uint64_t hold_lease_s = 600;  // holds older than this are reclaimed
  std::vector<std::string> pools;  // names of [[pool]]s this policy's runs belong to
};

struct PoolConfig {
  std::string name;
  Nanos hard = kNoLimit;
  std::vector<uint32_t> soft_permille;
  std::string period = "none";  // none, rolling, day, week, month
  uint64_t rolling_s = 0;       // for "rolling"
  std::string timezone = "UTC"; // for day, week (starting Monday) and month
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
  uint64_t closed_run_grace_s = 60;   // an ended run's slot is reused after this
  std::vector<PolicyConfig> policies; // [0] is the default policy
  std::vector<PoolConfig> pools;
};

// The configuration agentbudgetd runs with when given no file.
DaemonConfig builtin_default_config();

// Parses TOML text. On error returns false and fills `errors` with one line
// per problem: "FILE:LINE: key: what is wrong". Nothing partial is returned.
bool parse_config(const std::string& text, const std::string& file, DaemonConfig* out,
                  std::vector<std::string>* errors);
bool load_config_file(const std::string& path, DaemonConfig* out, std::vector<std::string>* errors);

}  // namespace ab
