// Turns a provider's usage report into disjoint counts. Providers overlap
// their fields differently (DESIGN.md, "Pricing"); getting this wrong bills
// cached or cache-written tokens twice, so inconsistent reports are refused.
#include "usage.h"

namespace ab {

UsageError normalise(const ReportedUsage& in, Usage* out) {
  Usage u;
  u.cache_read = in.cached;
  u.cache_write_5m = in.cache_write_5m;
  u.cache_write_1h = in.cache_write_1h;

  if (in.shape == UsageShape::kOpenAI) {
    // prompt_tokens contains the cache reads and the cache writes.
    uint64_t cache_part = 0;
    if (__builtin_add_overflow(in.cached, in.cache_write_5m, &cache_part) ||
        __builtin_add_overflow(cache_part, in.cache_write_1h, &cache_part))
      return UsageError::kOverflow;
    if (cache_part > in.input) return UsageError::kCachedExceedsPrompt;
    u.input = in.input - cache_part;
  } else {
    // Anthropic's input_tokens already excludes both.
    u.input = in.input;
  }

  if (in.reasoning_separate) {
    u.output = in.output;
  } else {
    if (in.reasoning > in.output) return UsageError::kReasoningExceedsOutput;
    u.output = in.output - in.reasoning;
  }
  u.reasoning = in.reasoning;

  // Downstream sums (prompt_total, total, tier selection) must not wrap.
  uint64_t total = 0;
  const uint64_t parts[] = {u.input, u.cache_read, u.cache_write_5m, u.cache_write_1h, u.output, u.reasoning};
  for (uint64_t p : parts)
    if (__builtin_add_overflow(total, p, &total)) return UsageError::kOverflow;

  *out = u;
  return UsageError::kNone;
}

}  // namespace ab
