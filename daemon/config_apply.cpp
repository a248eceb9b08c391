#include "config_apply.h"

#include <algorithm>
#include <cstring>

namespace ab {

namespace {

std::string name_of(const char* fixed, size_t cap) { return std::string(fixed, strnlen(fixed, cap)); }

// Places `wanted` (by name) at the indexes `existing` gives, then appends the
// rest. Missing names become retired placeholders built by `retire`.
template <class Entry, class Retire>
bool align(const std::vector<std::string>& existing, std::vector<Entry>* wanted, size_t cap, const char* what,
           Retire retire, std::string* error) {
  std::vector<Entry> out;
  std::vector<bool> used(wanted->size(), false);
  for (const std::string& name : existing) {
    auto it = std::find_if(wanted->begin(), wanted->end(), [&](const Entry& e) { return e.name == name; });
    if (it == wanted->end()) {
      out.push_back(retire(name));
    } else {
      used[size_t(it - wanted->begin())] = true;
      out.push_back(*it);
    }
  }
  for (size_t i = 0; i < wanted->size(); ++i)
    if (!used[i]) out.push_back((*wanted)[i]);
  if (out.size() > cap) {
    *error = std::string("too many ") + what + ": " + std::to_string(out.size()) + " counting the " +
             std::to_string(out.size() - wanted->size()) + " removed ones kept for their runs (at most " +
             std::to_string(cap) + "; a restart on a fresh ledger forgets removed ones)";
    return false;
  }
  *wanted = std::move(out);
  return true;
}

}  // namespace

bool keep_indexes(const ConfigHeader& seg, DaemonConfig* next, std::string* error) {
  const char* base = reinterpret_cast<const char*>(&seg);
  auto* policies = reinterpret_cast<const Policy*>(base + seg.policies_offset);
  auto* defs = reinterpret_cast<const PoolDef*>(base + seg.pools_offset);
  std::vector<std::string> policy_names, pool_names;
  for (uint32_t i = 0; i < seg.policy_count && i < uint32_t(kMaxPolicies); ++i)
    policy_names.push_back(name_of(policies[i].name, sizeof policies[i].name));
  for (uint32_t i = 0; i < seg.pool_count && i < uint32_t(kMaxPools); ++i)
    pool_names.push_back(name_of(defs[i].name, sizeof defs[i].name));
  auto retire_policy = [](const std::string& n) {
    PolicyConfig p;
    p.name = n;
    p.retired = true;
    return p;
  };
  auto retire_pool = [](const std::string& n) {
    PoolConfig p;
    p.name = n;
    p.retired = true;
    return p;
  };
  return align(policy_names, &next->policies, size_t(kMaxPolicies), "policies", retire_policy, error) &&
         align(pool_names, &next->pools, size_t(kMaxPools), "pools", retire_pool, error);
}

std::vector<std::string> restart_only_changes(const DaemonConfig& a, const DaemonConfig& b) {
  std::vector<std::string> out;
  auto check = [&](const char* key, const std::string& x, const std::string& y) {
    if (x != y)
      out.push_back(std::string(key) + ": changed from \"" + x + "\" to \"" + y + "\"; only a restart applies it");
  };
  check("run_capacity", std::to_string(a.run_capacity), std::to_string(b.run_capacity));
  check("hold_capacity", std::to_string(a.hold_capacity), std::to_string(b.hold_capacity));
  check("group", a.group, b.group);
  check("state_dir", a.state_dir, b.state_dir);
  check("control.socket", a.control.socket, b.control.socket);
  check("metrics.listen", a.metrics.listen, b.metrics.listen);
  return out;
}

}  // namespace ab
