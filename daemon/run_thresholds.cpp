#include "run_thresholds.h"

#include "run_ops.h"

namespace ab {

void refresh_thresholds(const Ledger& l, RunSlot& s) {
  if (word_state(s.word.load(std::memory_order_acquire)) != SlotState::kActive) return;
  Nanos hard = effective_hard(l, s);
  Nanos extra = s.client_soft.load(std::memory_order_relaxed);
  write_soft_thresholds(s, l.policy_of(s), hard, extra == kNoLimit ? -1 : extra);
  Nanos load = run_load(s);
  uint32_t crossed = 0;
  for (int k = 0; k < kMaxSoftThresholds; ++k) {
    Nanos thr = s.soft_nanos[k].load(std::memory_order_relaxed);
    if (thr != kNoLimit && load >= thr) crossed |= soft_event_bit(k);
  }
  if (hard != kNoLimit && load >= hard) crossed |= kEventHard;
  uint32_t pending = s.pending_events.load(std::memory_order_relaxed);
  if (crossed & ~pending) mark_event(l, s, crossed & ~pending);
}

}  // namespace ab
