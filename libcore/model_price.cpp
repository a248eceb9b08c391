// Cost of one call = sum over token kinds of count * femto-USD price, then
// one rounding to nano-USD. Rounding once per call (not per token kind) is
// what reproduces providers' own per-call figures.
#include "model_price.h"

namespace ab {

const PriceTier& select_tier(const ModelPrice& m, uint64_t prompt_tokens) {
  // Defensive clamp: a corrupt tier_count must not index past the array.
  const uint32_t count = m.tier_count < 1 ? 1 : (m.tier_count > kMaxTiers ? kMaxTiers : m.tier_count);
  uint32_t chosen = 0;
  for (uint32_t i = 1; i < count; ++i)
    if (prompt_tokens > m.tiers[i].above_prompt_tokens) chosen = i;
  return m.tiers[chosen];
}

namespace {

using U128 = unsigned __int128;

// acc += count * price; false on overflow.
bool add_term(U128* acc, uint64_t count, Femtos price) {
  U128 term = 0;
  return !__builtin_mul_overflow(static_cast<U128>(count), static_cast<U128>(price), &term) &&
         !__builtin_add_overflow(*acc, term, acc);
}

}  // namespace

// Also returns false for a negative (corrupt) resolved price: better to
// refuse than to credit money back.
bool price_call(const ModelPrice& m, const Usage& u, int64_t* nanos) {
  uint64_t prompt = 0;
  if (__builtin_add_overflow(u.input, u.cache_read, &prompt) ||
      __builtin_add_overflow(prompt, u.cache_write_5m, &prompt) ||
      __builtin_add_overflow(prompt, u.cache_write_1h, &prompt))
    return false;
  const PriceTier& t = select_tier(m, prompt);

  // Unset prices fall back as documented in model_price.h.
  const Femtos cache_read = t.cache_read == kPriceUnset ? t.input : t.cache_read;
  const Femtos write_5m = t.cache_write_5m == kPriceUnset ? t.input : t.cache_write_5m;
  const Femtos write_1h = t.cache_write_1h == kPriceUnset ? write_5m : t.cache_write_1h;
  const Femtos reasoning = t.reasoning == kPriceUnset ? t.output : t.reasoning;
  const Femtos prices[] = {t.input, cache_read, write_5m, write_1h, t.output, reasoning, m.per_request};
  for (Femtos p : prices)
    if (p < 0) return false;

  U128 femtos = 0;
  if (!add_term(&femtos, u.input, t.input) || !add_term(&femtos, u.cache_read, cache_read) ||
      !add_term(&femtos, u.cache_write_5m, write_5m) || !add_term(&femtos, u.cache_write_1h, write_1h) ||
      !add_term(&femtos, u.output, t.output) || !add_term(&femtos, u.reasoning, reasoning) ||
      !add_term(&femtos, 1, m.per_request))
    return false;

  // Round half up to whole nanos (femtos >= 0 here).
  constexpr U128 kPerNano = kFemtosPerNano;
  const U128 rounded = femtos / kPerNano + (femtos % kPerNano >= kPerNano / 2 ? 1 : 0);
  if (rounded > static_cast<U128>(INT64_MAX)) return false;
  *nanos = static_cast<int64_t>(rounded);
  return true;
}

}  // namespace ab
