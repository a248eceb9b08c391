// Token usage of one LLM call, normalised so that every count is disjoint:
// the price engine multiplies each by its own rate and nothing is billed twice.
#pragma once
#include <cstdint>

namespace ab {

struct Usage {
  uint64_t input = 0;           // prompt tokens neither read from nor written to cache
  uint64_t cache_read = 0;      // prompt tokens served from the prompt cache
  uint64_t cache_write_5m = 0;  // prompt tokens written to the cache, 5-minute TTL
  uint64_t cache_write_1h = 0;  // prompt tokens written to the cache, 1-hour TTL
  uint64_t output = 0;          // completion tokens, excluding reasoning
  uint64_t reasoning = 0;       // reasoning / thinking tokens

  // All prompt tokens: what a long-context tier is selected on.
  uint64_t prompt_total() const { return input + cache_read + cache_write_5m + cache_write_1h; }
  uint64_t total() const { return prompt_total() + output + reasoning; }
};

// How the provider reported usage (see DESIGN.md, "Pricing").
enum class UsageShape : uint32_t {
  // OpenAI / Gemini / OpenRouter: prompt_tokens INCLUDES cached tokens;
  // completion_tokens INCLUDES reasoning tokens.
  kOpenAI = 0,
  // Anthropic: input_tokens EXCLUDES cache reads and cache writes.
  kAnthropic = 1,
};

// Raw counts as a provider reports them, before normalisation.
struct ReportedUsage {
  UsageShape shape = UsageShape::kOpenAI;
  uint64_t input = 0;               // prompt_tokens (OpenAI) or input_tokens (Anthropic)
  uint64_t cached = 0;              // cached_tokens / cache_read_input_tokens
  uint64_t cache_write_5m = 0;      // cache_creation (5 min)
  uint64_t cache_write_1h = 0;      // cache_creation (1 h)
  uint64_t output = 0;              // completion_tokens / output_tokens
  uint64_t reasoning = 0;           // reasoning_tokens
  bool reasoning_separate = false;  // reasoning NOT included in `output`
};

enum class UsageError { kNone, kCachedExceedsPrompt, kReasoningExceedsOutput, kOverflow };

// Normalises reported usage into disjoint counts. Refuses inconsistent
// reports (cached > prompt in the OpenAI shape, reasoning > output when it is
// said to be included) instead of guessing.
UsageError normalise(const ReportedUsage& in, Usage* out);

}  // namespace ab
