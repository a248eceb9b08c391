// One model's prices as plain data. Lives in the read-only config segment,
// so it holds no pointers and has a fixed size (static_asserts below).
// Prices are integer femto-USD per token (1 USD = 1e15 fUSD), which keeps
// every LiteLLM price ($0.0125/M = 12,500 fUSD) exact.
#pragma once
#include <cstddef>
#include <cstdint>

#include "usage.h"

namespace ab {

using Femtos = int64_t;  // femto-USD
inline constexpr int kFemtoScale = 15;
inline constexpr Femtos kFemtosPerNano = 1'000'000;
inline constexpr int kMaxTiers = 4;
inline constexpr size_t kModelNameMax = 127;
inline constexpr Femtos kPriceUnset = -1;

// Prices that apply when the request's prompt exceeds `above_prompt_tokens`.
// Tier 0 has above_prompt_tokens = 0 and is the base price.
struct PriceTier {
  uint64_t above_prompt_tokens;
  Femtos input;           // uncached prompt token
  Femtos output;          // completion token
  Femtos cache_read;      // kPriceUnset: fall back to `input`
  Femtos cache_write_5m;  // kPriceUnset: fall back to `input`
  Femtos cache_write_1h;  // kPriceUnset: fall back to cache_write_5m
  Femtos reasoning;       // kPriceUnset: billed at `output`
};
static_assert(sizeof(PriceTier) == 56);

struct ModelPrice {
  char name[kModelNameMax + 1];  // NUL-terminated table key
  uint32_t name_len;
  uint32_t tier_count;         // 1..kMaxTiers, ascending above_prompt_tokens
  uint64_t max_output_tokens;  // 0 when unknown
  uint64_t max_input_tokens;   // 0 when unknown
  Femtos per_request;          // fixed fee per call (input_cost_per_request), 0 if none
  PriceTier tiers[kMaxTiers];
};
static_assert(sizeof(ModelPrice) == 128 + 8 + 8 + 8 + 8 + 4 * 56);

// The tier that prices a request with `prompt_tokens` prompt tokens: the
// highest tier whose threshold the prompt exceeds (strictly), so a tier
// reprices the whole request.
const PriceTier& select_tier(const ModelPrice& m, uint64_t prompt_tokens);

// Exact cost of one call in nano-USD, rounded half up from femto-USD.
// Returns false on arithmetic overflow (absurd token counts).
bool price_call(const ModelPrice& m, const Usage& u, int64_t* nanos);

}  // namespace ab
