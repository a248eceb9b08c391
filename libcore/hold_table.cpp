#include "hold_table.h"

#include "clock.h"

namespace ab {

HoldSlot* claim_hold_slot(const Ledger& l, HoldState as, uint32_t pid, uint32_t* index) {
  static thread_local uint32_t cursor = uint32_t(uintptr_t(&cursor) >> 6) * 2654435761u;
  const uint32_t cap = l.hold_capacity();
  for (uint32_t n = 0; n < cap; ++n) {
    uint32_t i = (cursor + n) % cap;
    HoldSlot& h = l.holds()[i];
    uint64_t w = h.word.load(std::memory_order_relaxed);
    if (hold_state(w) != HoldState::kFree) continue;
    if (h.word.compare_exchange_strong(w, pack_hold(as, word_generation(w), pid), std::memory_order_seq_cst)) {
      cursor = i + 1;
      *index = i;
      return &h;
    }
  }
  return nullptr;
}

void free_hold_slot(HoldSlot& h) {
  uint64_t w = h.word.load(std::memory_order_relaxed);
  h.word.store(pack_hold(HoldState::kFree, word_generation(w) + 1, 0), std::memory_order_seq_cst);
}

void init_hold_slot(HoldSlot& h, const ProcessIdentity& me, uint32_t run_index, uint32_t run_generation, Nanos estimate,
                    uint64_t fingerprint) {
  h.owner_start_ticks.store(me.start_ticks, std::memory_order_relaxed);
  h.run_index.store(run_index, std::memory_order_relaxed);
  h.run_generation.store(run_generation, std::memory_order_relaxed);
  h.estimate.store(estimate, std::memory_order_relaxed);
  h.actual.store(0, std::memory_order_relaxed);
  h.created_unix_ns.store(coarse_unix_ns(), std::memory_order_relaxed);
  h.fingerprint.store(fingerprint, std::memory_order_relaxed);
  h.stage.store(0, std::memory_order_relaxed);
}

LevelsOp::LevelsOp(const Ledger& l, const RunRef& r, Levels* lv) {
  levels_of(l, *r.slot, coarse_unix_ns() / 1'000'000'000u, lv);
  ProcessIdentity me = l.identity();
  uint32_t index = 0;
  // With the hold table full the operation still happens, unrecorded.
  op_ = claim_hold_slot(l, HoldState::kCharging, me.pid, &index);
  if (op_) init_hold_slot(*op_, me, r.index, r.generation, 0, 0);
  r.slot->hold_seq.fetch_add(1, std::memory_order_seq_cst);
  touch_levels(*lv);
}

LevelsOp::~LevelsOp() {
  if (op_) free_hold_slot(*op_);
}

}  // namespace ab
