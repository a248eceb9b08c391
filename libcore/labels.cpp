#include "labels.h"

#include <cstring>

namespace ab {

std::string_view LabelSet::get(std::string_view k) const {
  for (int i = 0; i < count; ++i)
    if (key[i] == k) return value[i];
  return {};
}

bool valid_label_key(std::string_view k) {
  if (k.empty() || k.size() > 31) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

bool valid_label_value(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  for (unsigned char c : v)
    if (c < 0x21 || c > 0x7E || c == ',' || c == '=') return false;
  return true;
}

bool parse_labels(std::string_view text, LabelSet* out) {
  *out = LabelSet{};
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view pair = text.substr(0, comma);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view k = pair.substr(0, eq), v = pair.substr(eq + 1);
    if (!valid_label_key(k) || !valid_label_value(v) || out->count == kMaxLabels) return false;
    if (!out->get(k).empty()) return false;  // duplicate key
    out->key[out->count] = k;
    out->value[out->count] = v;
    ++out->count;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return false;  // trailing comma
  }
  return true;
}

static std::string_view fixed(const char* s, size_t cap) { return {s, strnlen(s, cap)}; }

int match_policy(const Policy* policies, uint32_t count, const LabelSet& labels) {
  if (count > uint32_t(kMaxPolicies)) count = kMaxPolicies;
  std::string_view by_name = labels.get("policy");
  if (!by_name.empty()) {
    for (uint32_t i = 0; i < count; ++i)
      if (!policies[i].retired && fixed(policies[i].name, sizeof policies[i].name) == by_name) return int(i);
    return -1;
  }
  int best = 0;
  uint32_t best_matches = 0;
  for (uint32_t i = 1; i < count; ++i) {
    const Policy& p = policies[i];
    if (p.retired || p.match_count == 0 || p.match_count > uint32_t(kMaxPolicyMatches) || p.match_count <= best_matches)
      continue;
    bool all = true;
    for (uint32_t m = 0; m < p.match_count && all; ++m) {
      std::string_view k = fixed(p.matches[m].key, sizeof p.matches[m].key);
      std::string_view want = fixed(p.matches[m].value, sizeof p.matches[m].value);
      std::string_view have = labels.get(k);
      all = !have.empty() && (want == "*" || want == have);
    }
    if (all) {
      best = int(i);
      best_matches = p.match_count;
    }
  }
  return best;
}

}  // namespace ab
