#include "slot_recycler.h"

#include <vector>

namespace ab {

bool SlotRecycler::recyclable(uint32_t index, uint64_t now, const std::vector<bool>& held) const {
  const RunSlot& s = ledger_.slots()[index];
  uint64_t w = s.word.load(std::memory_order_acquire);
  if (word_state(w) != SlotState::kClosed) return false;
  uint64_t closed = s.closed_unix_ns.load(std::memory_order_relaxed);
  if (closed == 0 || now < closed || now - closed < grace_ns_) return false;
  if (s.pending_events.load(std::memory_order_acquire) & ~s.delivered_events.load(std::memory_order_acquire))
    return false;                 // the daemon has not told anyone yet
  if (held[index]) return false;  // a hold (or an operation) still refers to it
  // No active relative: an active descendant still rolls spend up into it,
  // an active ancestor still counts it in child_spent.
  uint32_t na = s.ancestor_count <= uint32_t(kMaxAncestors) ? s.ancestor_count : 0;
  for (uint32_t i = 0; i < na; ++i) {
    uint32_t ai = s.ancestor_index[i];
    if (ai >= ledger_.capacity()) continue;
    uint64_t aw = ledger_.slots()[ai].word.load(std::memory_order_acquire);
    if (word_state(aw) == SlotState::kActive && word_generation(aw) == s.ancestor_generation[i]) return false;
  }
  return true;
}

RecycleStats SlotRecycler::pass(uint64_t now) {
  RecycleStats st;
  RunSlot* slots = ledger_.slots();
  const uint32_t cap = ledger_.capacity(), mask = cap - 1;
  // Runs any hold slot refers to, in one pass over the hold table.
  std::vector<bool> held(cap, false);
  for (uint32_t i = 0; i < ledger_.hold_capacity(); ++i) {
    const HoldSlot& h = ledger_.holds()[i];
    if (hold_state(h.word.load(std::memory_order_acquire)) != HoldState::kFree && h.run_index < cap)
      held[h.run_index] = true;
  }
  std::vector<uint32_t> retire;
  for (uint32_t i = 0; i < cap; ++i)
    if (recyclable(i, now, held)) retire.push_back(i);
  // Descendants that are still active keep their ancestors.
  if (!retire.empty()) {
    std::vector<bool> keep(cap, false);
    for (uint32_t i = 0; i < cap; ++i) {
      const RunSlot& x = slots[i];
      if (word_state(x.word.load(std::memory_order_acquire)) != SlotState::kActive) continue;
      uint32_t na = x.ancestor_count <= uint32_t(kMaxAncestors) ? x.ancestor_count : 0;
      for (uint32_t k = 0; k < na; ++k)
        if (x.ancestor_index[k] < cap) keep[x.ancestor_index[k]] = true;
    }
    std::erase_if(retire, [&](uint32_t i) { return keep[i]; });
  }
  bool tombstones = false;
  for (uint32_t i = 0; i < cap && !tombstones; ++i)
    tombstones = word_state(slots[i].word.load(std::memory_order_relaxed)) == SlotState::kTombstone;
  if (retire.empty() && !tombstones) return st;

  ledger_.header()->recycle_epoch.fetch_add(1, std::memory_order_seq_cst);  // odd: recycling
  for (uint32_t i : retire) {
    RunSlot& s = slots[i];
    uint64_t w = s.word.load(std::memory_order_acquire);
    if (word_state(w) != SlotState::kClosed) continue;
    // Fold the run's spend into its pools before it leaves the table (a
    // crash in between counts it twice in a later repair: safe side).
    Nanos spent = s.spent.load(std::memory_order_acquire);
    for (int k = 0; k < kMaxRunPools; ++k)
      if (s.pools[k] != kNoPool && s.pools[k] < ledger_.pool_count())
        ledger_.pools()[s.pools[k]].archived_spent.fetch_add(spent, std::memory_order_acq_rel);
    if (s.word.compare_exchange_strong(w, pack_word(SlotState::kTombstone, word_generation(w), 0),
                                       std::memory_order_seq_cst))
      ++st.recycled;
  }
  // Empty every tombstone that no live run's probe path crosses: a run at
  // slot p with home h is found by walking h..p, so a tombstone outside all
  // such walks can become empty without hiding anyone (this also works for
  // a table with no empty slot left). A slot being claimed has no reliable
  // home yet, but its claimer walked only non-empty slots to reach it: cover
  // the whole non-empty stretch before it.
  std::vector<bool> covered(cap, false);
  for (uint32_t p = 0; p < cap; ++p) {
    uint64_t w = slots[p].word.load(std::memory_order_seq_cst);
    SlotState state = word_state(w);
    // A claim whose process is gone will never be published.
    if (state == SlotState::kClaiming && process_liveness(word_pid(w), 0) == Liveness::kDead &&
        slots[p].word.compare_exchange_strong(w, pack_word(SlotState::kTombstone, word_generation(w), 0),
                                              std::memory_order_seq_cst))
      state = SlotState::kTombstone;
    if (state == SlotState::kClaiming) {
      for (uint32_t j = (p + mask) & mask; j != p; j = (j + mask) & mask) {
        if (word_state(slots[j].word.load(std::memory_order_seq_cst)) == SlotState::kEmpty) break;
        covered[j] = true;
      }
      continue;
    }
    if (state != SlotState::kActive && state != SlotState::kClosed) continue;
    for (uint32_t j = uint32_t(slots[p].id_hash) & mask; j != p; j = (j + 1) & mask) covered[j] = true;
  }
  for (uint32_t t = 0; t < cap; ++t) {
    if (covered[t]) continue;
    uint64_t w = slots[t].word.load(std::memory_order_seq_cst);
    if (word_state(w) == SlotState::kTombstone &&
        slots[t].word.compare_exchange_strong(w, pack_word(SlotState::kEmpty, word_generation(w) + 1, 0),
                                              std::memory_order_seq_cst))
      ++st.emptied;
  }
  ledger_.header()->recycle_epoch.fetch_add(1, std::memory_order_seq_cst);  // even: done
  return st;
}

}  // namespace ab
