// Run labels ("agent=researcher,team=support,task=triage") and the policy
// they select. Parsing allocates nothing: labels point into the caller's text.
#pragma once
#include <cstdint>
#include <string_view>

#include "layout.h"

namespace ab {

inline constexpr int kMaxLabels = 16;

struct LabelSet {
  int count = 0;
  std::string_view key[kMaxLabels];
  std::string_view value[kMaxLabels];
  std::string_view get(std::string_view k) const;  // empty if absent
};

// Keys: 1-31 of [a-z0-9_.-]; values: 1-63 printable ASCII without ',' '=' or
// space. At most kMaxLabels pairs, no duplicate keys. Empty text is valid.
bool parse_labels(std::string_view text, LabelSet* out);
bool valid_label_key(std::string_view k);
bool valid_label_value(std::string_view v);

// "policy=NAME" selects that policy (-1 if there is none of that name).
// Otherwise the policy (1..count-1) whose every match holds and that has the
// most matches -- the most specific one; among equals, the first. 0 (the
// default policy) when none matches.
int match_policy(const Policy* policies, uint32_t count, const LabelSet& labels);

}  // namespace ab
