// The limits that bind one run: its policy's, lowered by the run's own
// overrides chosen at begin. Read on every admission.
#pragma once
#include <cstdint>

#include "clock.h"
#include "layout.h"
#include "ledger.h"
#include "status.h"

namespace ab {

struct RunLimits {
  uint64_t max_calls = 0, max_tokens = 0, max_duration_s = 0, hold_lease_s = 0;
  uint32_t max_in_flight = 0, loop_limit = 0;
};

// 0 means unlimited on both sides.
inline uint64_t lower_limit(uint64_t policy, uint64_t run) {
  if (policy == 0) return run;
  if (run == 0) return policy;
  return run < policy ? run : policy;
}

inline RunLimits limits_of(const Ledger& l, const RunSlot& s) {
  RunLimits r;
  const Policy* p = l.policy_of(s);
  r.max_calls = lower_limit(p ? p->max_calls : 0, s.max_calls);
  r.max_tokens = lower_limit(p ? p->max_tokens : 0, s.max_tokens);
  r.max_duration_s = lower_limit(p ? p->max_duration_s : 0, s.max_duration_s);
  r.max_in_flight = uint32_t(lower_limit(p ? p->max_in_flight : 0, s.max_in_flight));
  r.loop_limit = uint32_t(lower_limit(p ? p->loop_limit : 0, s.loop_limit));
  r.hold_lease_s = p ? p->hold_lease_s : 0;
  return r;
}

inline uint64_t tokens_used(const RunSlot& s) {
  return s.input_tokens.load(std::memory_order_relaxed) + s.cached_tokens.load(std::memory_order_relaxed) +
         s.cache_write_tokens.load(std::memory_order_relaxed) + s.output_tokens.load(std::memory_order_relaxed) +
         s.reasoning_tokens.load(std::memory_order_relaxed);
}

// The checks that need no counter update: duration and tokens.
inline Reason static_limit_reason(const RunSlot& s, const RunLimits& lim) {
  if (lim.max_duration_s) {
    // The coarse clock may lag the precise one begun_unix_ns came from.
    uint64_t now = coarse_unix_ns();
    if (now > s.begun_unix_ns && now - s.begun_unix_ns >= lim.max_duration_s * 1'000'000'000ull)
      return Reason::kDuration;
  }
  if (lim.max_tokens && tokens_used(s) >= lim.max_tokens) return Reason::kTokens;
  return Reason::kNone;
}

// Loop guard: records `fingerprint` as the run's latest call and says
// whether it is the limit-th identical one in a row (which is denied and
// not counted, so the agent stays denied until it changes what it does).
// The word packs the fingerprint's low 48 bits and a 16-bit repeat count.
// A call without a fingerprint (0) is a different call: it ends the streak.
inline bool loop_denies(RunSlot& s, uint64_t fingerprint, uint32_t limit) {
  if (limit == 0) return false;
  if (fingerprint == 0) {
    if (s.loop_word.load(std::memory_order_relaxed) != 0) s.loop_word.store(0, std::memory_order_relaxed);
    return false;
  }
  const uint64_t fp = fingerprint & 0xFFFFFFFFFFFFull;
  uint64_t w = s.loop_word.load(std::memory_order_relaxed);
  for (int tries = 0; tries < 64; ++tries) {
    uint64_t count = w >> 48;
    uint64_t next = (w & 0xFFFFFFFFFFFFull) == fp && count > 0 ? count + 1 : 1;
    if (next >= limit) return true;
    if (s.loop_word.compare_exchange_weak(w, fp | (next << 48), std::memory_order_relaxed)) return false;
  }
  return false;  // heavy contention on one run: let the call through
}

}  // namespace ab
