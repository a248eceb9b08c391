#include "adjust.h"

#include "clock.h"
#include "hold_table.h"
#include "levels.h"
#include "run_ops.h"

namespace ab {

Status adjust_spent(const Ledger& l, const RunRef& r, Nanos delta, Adjustment* out) {
  if (delta < -kMaxAmountNanos || delta > kMaxAmountNanos) return Status::kInvalidAmount;
  RunSlot& s = *r.slot;
  uint64_t w = s.word.load(std::memory_order_acquire);
  if (word_generation(w) != r.generation ||
      (word_state(w) != SlotState::kActive && word_state(w) != SlotState::kClosed))
    return Status::kStaleHandle;
  Nanos before = 0;
  {
    Levels lv;
    LevelsOp op(l, r, &lv);
    before = s.spent.load(std::memory_order_seq_cst);
    for (;;) {
      if (before + delta < 0) return Status::kInvalidAmount;  // spend never goes below zero
      if (s.spent.compare_exchange_weak(before, before + delta, std::memory_order_seq_cst)) break;
    }
    add_spent_to_levels(l, lv, delta);
  }
  Nanos after = before + delta;
  // Re-arm the thresholds the run is now back under.
  uint32_t rearm = 0;
  for (int k = 0; k < kMaxSoftThresholds; ++k) {
    Nanos thr = s.soft_nanos[k].load(std::memory_order_relaxed);
    if (thr != kNoLimit && after + s.child_spent.load(std::memory_order_relaxed) < thr) rearm |= soft_event_bit(k);
  }
  Nanos hard = effective_hard(l, s);
  if (hard != kNoLimit && after + s.child_spent.load(std::memory_order_relaxed) < hard) rearm |= kEventHard;
  if (rearm) {
    s.pending_events.fetch_and(~rearm, std::memory_order_acq_rel);
    s.delivered_events.fetch_and(~rearm, std::memory_order_acq_rel);
  }
  if (out) *out = Adjustment{delta, before, after};
  return Status::kOk;
}

}  // namespace ab
