#include "hold_reaper.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

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
  return s == HoldState::kReserving || s == HoldState::kCommitting || s == HoldState::kReleasing ||
         s == HoldState::kCharging;
}

namespace {

// True if `x` has the run at (index, generation) among its ancestors.
bool descends_from(const RunSlot& x, uint32_t index, uint32_t generation) {
  uint32_t n = x.ancestor_count <= uint32_t(kMaxAncestors) ? x.ancestor_count : 0;
  for (uint32_t i = 0; i < n; ++i)
    if (x.ancestor_index[i] == index && x.ancestor_generation[i] == generation) return true;
  return false;
}

bool in_pool(const RunSlot& x, uint16_t pool) {
  for (int k = 0; k < kMaxRunPools; ++k)
    if (x.pools[k] == pool) return true;
  return false;
}

}  // namespace

// Recomputes every aggregate the run contributes to -- its own held and
// in_flight, each ancestor's held and child_spent, each pool's held and
// total_spent -- from the truth (ACTIVE holds, runs' own spent), and
// installs them with CAS if nothing moved while we looked.
bool HoldReaper::repair_run(uint32_t run_index, uint32_t run_generation) {
  RunSlot* slots = ledger_.slots();
  RunSlot& run = slots[run_index];
  struct Anc {
    RunSlot* slot;
    uint32_t index, generation;
    uint64_t seq;
    Nanos held = 0, child_spent = 0;
  };
  struct Pool {
    PoolSlot* slot;
    uint16_t index;
    uint64_t seq;
    Nanos held = 0, total = 0;
  };
  std::vector<Anc> ancs;
  std::vector<Pool> pools;
  uint32_t na = run.ancestor_count <= uint32_t(kMaxAncestors) ? run.ancestor_count : 0;
  for (uint32_t i = 0; i < na; ++i) {
    uint32_t ai = run.ancestor_index[i];
    if (ai >= ledger_.capacity()) continue;
    RunSlot& a = slots[ai];
    if (word_generation(a.word.load(std::memory_order_acquire)) != run.ancestor_generation[i]) continue;
    ancs.push_back({&a, ai, run.ancestor_generation[i], a.hold_seq.load(std::memory_order_seq_cst)});
  }
  for (int k = 0; k < kMaxRunPools; ++k) {
    uint16_t p = run.pools[k];
    if (p == kNoPool || p >= ledger_.pool_count()) continue;
    PoolSlot& ps = ledger_.pools()[p];
    pools.push_back({&ps, p, ps.op_seq.load(std::memory_order_seq_cst)});
    pools.back().total = ps.archived_spent.load(std::memory_order_acquire);  // recycled member runs
  }
  uint64_t run_seq = run.hold_seq.load(std::memory_order_seq_cst);

  // Holds: ACTIVE ones are the truth for held; a live process mid-transition
  // on any of these levels means they are not quiet yet.
  Nanos held = 0;
  uint32_t in_flight = 0;
  std::vector<uint32_t> dead;
  for (uint32_t i = 0; i < ledger_.hold_capacity(); ++i) {
    HoldSlot& h = ledger_.holds()[i];
    uint64_t w = h.word.load(std::memory_order_seq_cst);
    HoldState st = hold_state(w);
    if (st == HoldState::kFree || h.run_index >= ledger_.capacity()) continue;
    const RunSlot& x = slots[h.run_index];
    if (word_generation(x.word.load(std::memory_order_acquire)) != h.run_generation) continue;
    bool mine = h.run_index == run_index && h.run_generation == run_generation;
    bool relevant = mine;
    for (auto& a : ancs)
      if ((h.run_index == a.index && h.run_generation == a.generation) || descends_from(x, a.index, a.generation)) {
        relevant = true;
        if (st == HoldState::kActive) a.held += h.estimate;
      }
    for (auto& p : pools)
      if (in_pool(x, p.index)) {
        relevant = true;
        if (st == HoldState::kActive) p.held += h.estimate;
      }
    if (!relevant) continue;
    if (st == HoldState::kActive) {
      if (mine) {
        held += h.estimate;
        ++in_flight;
      }
    } else if (transitional(st)) {
      if (liveness(word_pid(w), h.owner_start_ticks.load(std::memory_order_relaxed)) != Liveness::kDead)
        return false;  // a live process is mid-transition: not quiet
      dead.push_back(i);
    }
  }
  // Runs' own spent is the truth for child_spent and pool totals.
  if (!ancs.empty() || !pools.empty()) {
    for (uint32_t i = 0; i < ledger_.capacity(); ++i) {
      const RunSlot& x = slots[i];
      SlotState st = word_state(x.word.load(std::memory_order_acquire));
      if (st != SlotState::kActive && st != SlotState::kClosed) continue;
      Nanos spent = x.spent.load(std::memory_order_seq_cst);
      for (auto& a : ancs)
        if (descends_from(x, a.index, a.generation)) a.child_spent += spent;
      for (auto& p : pools)
        if (in_pool(x, p.index)) p.total += spent;
    }
  }
  Nanos held_now = run.held.load(std::memory_order_seq_cst);
  uint32_t in_flight_now = run.in_flight.load(std::memory_order_seq_cst);
  std::vector<Nanos> anc_held(ancs.size()), anc_child(ancs.size()), pool_held(pools.size()), pool_total(pools.size());
  for (size_t i = 0; i < ancs.size(); ++i) {
    anc_held[i] = ancs[i].slot->held.load(std::memory_order_seq_cst);
    anc_child[i] = ancs[i].slot->child_spent.load(std::memory_order_seq_cst);
  }
  for (size_t j = 0; j < pools.size(); ++j) {
    pool_held[j] = pools[j].slot->held.load(std::memory_order_seq_cst);
    pool_total[j] = pools[j].slot->total_spent.load(std::memory_order_seq_cst);
  }
  // Quiet: no operation started on any of these levels while we looked.
  if (run.hold_seq.load(std::memory_order_seq_cst) != run_seq) return false;
  for (auto& a : ancs)
    if (a.slot->hold_seq.load(std::memory_order_seq_cst) != a.seq) return false;
  for (auto& p : pools)
    if (p.slot->op_seq.load(std::memory_order_seq_cst) != p.seq) return false;

  bool ok = run.held.compare_exchange_strong(held_now, held, std::memory_order_seq_cst) &&
            run.in_flight.compare_exchange_strong(in_flight_now, in_flight, std::memory_order_seq_cst);
  for (size_t i = 0; ok && i < ancs.size(); ++i)
    ok =
        ancs[i].slot->held.compare_exchange_strong(anc_held[i], ancs[i].held, std::memory_order_seq_cst) &&
        ancs[i].slot->child_spent.compare_exchange_strong(anc_child[i], ancs[i].child_spent, std::memory_order_seq_cst);
  for (size_t j = 0; ok && j < pools.size(); ++j)
    ok = pools[j].slot->held.compare_exchange_strong(pool_held[j], pools[j].held, std::memory_order_seq_cst) &&
         pools[j].slot->total_spent.compare_exchange_strong(pool_total[j], pools[j].total, std::memory_order_seq_cst);
  if (!ok) return false;  // something moved: the next pass recomputes
  for (uint32_t i : dead) {
    HoldSlot& h = ledger_.holds()[i];
    uint64_t w = h.word.load(std::memory_order_seq_cst);
    // A reservation that counted its call but was never granted: uncount it.
    if (hold_state(w) == HoldState::kReserving && (h.stage.load(std::memory_order_relaxed) & kStageCalls))
      slots[h.run_index].calls.fetch_sub(1, std::memory_order_acq_rel);
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
        st.released_dead += reclaim_hold(ledger_, i, self_, false);
        continue;
      }
      const RunSlot& run = ledger_.slots()[h.run_index];
      uint64_t lease = limits_of(ledger_, run).hold_lease_s;
      if (lease && now > h.created_unix_ns && now - h.created_unix_ns >= lease * 1'000'000'000ull)
        st.released_lease += reclaim_hold(ledger_, i, self_, true);
    } else if (s == HoldState::kExpired) {
      // Nobody committed it for another lease: its owner has moved on.
      const RunSlot& run = ledger_.slots()[h.run_index];
      uint64_t lease = std::max<uint64_t>(1, limits_of(ledger_, run).hold_lease_s);
      if (now > h.created_unix_ns && now - h.created_unix_ns >= 2 * lease * 1'000'000'000ull &&
          h.word.compare_exchange_strong(w, pack_hold(HoldState::kFree, word_generation(w) + 1, 0),
                                         std::memory_order_seq_cst)) {
      }
    } else if (transitional(s) && liveness(word_pid(w), ticks) == Liveness::kDead) {
      to_repair.emplace(h.run_index, h.run_generation);
    }
  }
  for (auto [index, gen] : to_repair) {
    if (repair_run(index, gen))
      ++st.repaired;
    else
      ++st.pending_repairs;
  }
  return st;
}

}  // namespace ab
