#include "hold_reaper.h"

#include <set>
#include <vector>
#include <utility>

#include "holds.h"
#include "run_limits.h"

namespace ab {

Liveness HoldReaper::liveness(uint32_t pid, uint64_t ticks) {
  if (pid == self_.pid && (ticks == 0 || ticks == self_.start_ticks)) return Liveness::kAlive;
  uint64_t key = (uint64_t(pid) << 32) ^ ticks;
  auto it = seen_.find(key);
  if (it != seen_.end()) return it->second;
  Liveness l = process_liveness(pid, ticks);
  seen_.emplace(key, l);
  return l;
}

static bool transitional(HoldState s) {
  return s == HoldState::kReserving || s == HoldState::kCommitting || s == HoldState::kReleasing;
}

bool HoldReaper::repair_run(uint32_t run_index, uint32_t run_generation) {
  RunSlot& run = ledger_.slots()[run_index];
  uint64_t seq1 = run.hold_seq.load(std::memory_order_seq_cst);
  Nanos held = 0;
  uint32_t in_flight = 0;
  std::vector<uint32_t> dead;
  for (uint32_t i = 0; i < ledger_.hold_capacity(); ++i) {
    HoldSlot& h = ledger_.holds()[i];
    uint64_t w = h.word.load(std::memory_order_seq_cst);
    HoldState st = hold_state(w);
    if (st == HoldState::kFree || h.run_index != run_index || h.run_generation != run_generation) continue;
    if (st == HoldState::kActive) {
      held += h.estimate;
      ++in_flight;
    } else if (transitional(st)) {
      if (liveness(word_pid(w), h.owner_start_ticks.load(std::memory_order_relaxed)) != Liveness::kDead)
        return false;  // a live process is mid-transition: not quiescent
      dead.push_back(i);
    }
  }
  Nanos held_now = run.held.load(std::memory_order_seq_cst);
  uint32_t in_flight_now = run.in_flight.load(std::memory_order_seq_cst);
  if (run.hold_seq.load(std::memory_order_seq_cst) != seq1) return false;
  if (!run.held.compare_exchange_strong(held_now, held, std::memory_order_seq_cst)) return false;
  if (!run.in_flight.compare_exchange_strong(in_flight_now, in_flight, std::memory_order_seq_cst)) return false;
  for (uint32_t i : dead) {
    HoldSlot& h = ledger_.holds()[i];
    uint64_t w = h.word.load(std::memory_order_seq_cst);
    // A reservation that counted its call but was never granted: uncount it.
    if (hold_state(w) == HoldState::kReserving && (h.stage.load(std::memory_order_relaxed) & kStageCalls))
      run.calls.fetch_sub(1, std::memory_order_acq_rel);
    h.word.compare_exchange_strong(w, pack_hold(HoldState::kFree, word_generation(w) + 1, 0),
                                   std::memory_order_seq_cst);
  }
  return true;
}

ReapStats HoldReaper::pass(uint64_t now) {
  ReapStats st;
  seen_.clear();
  std::set<std::pair<uint32_t, uint32_t>> to_repair;
  for (uint32_t i = 0; i < ledger_.hold_capacity(); ++i) {
    HoldSlot& h = ledger_.holds()[i];
    uint64_t w = h.word.load(std::memory_order_acquire);
    HoldState s = hold_state(w);
    if (s == HoldState::kFree) continue;
    if (h.run_index >= ledger_.capacity()) continue;  // never trust a slot's bytes
    uint64_t ticks = h.owner_start_ticks.load(std::memory_order_relaxed);
    if (s == HoldState::kActive) {
      if (liveness(word_pid(w), ticks) == Liveness::kDead) {
        st.released_dead += reclaim_hold(ledger_, i, self_);
        continue;
      }
      const RunSlot& run = ledger_.slots()[h.run_index];
      uint64_t lease = limits_of(ledger_, run).hold_lease_s;
      if (lease && now > h.created_unix_ns && now - h.created_unix_ns >= lease * 1'000'000'000ull)
        st.released_lease += reclaim_hold(ledger_, i, self_);
    } else if (transitional(s) && liveness(word_pid(w), ticks) == Liveness::kDead) {
      to_repair.emplace(h.run_index, h.run_generation);
    }
  }
  for (auto [index, gen] : to_repair) {
    if (repair_run(index, gen)) ++st.repaired;
    else ++st.pending_repairs;
  }
  return st;
}

}  // namespace ab
