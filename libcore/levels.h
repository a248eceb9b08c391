// The levels above a run: its ancestors (parent runs) and its pools. Every
// charge and hold of a run applies to each of them, and a reservation is
// granted only if every level has room: all levels or none.
//
// Truth and aggregates: a run's own `spent` is the truth. An ancestor's
// child_spent and a pool's total_spent are aggregates (sums of member runs'
// spent), and every `held` and `in_flight` is an aggregate of ACTIVE holds.
// Operations update the truth first, then the aggregates, so a process
// killed in between leaves only aggregates wrong, which the daemon
// recomputes from the truth (daemon/hold_reaper.h).
#pragma once
#include <cstdint>

#include "ledger.h"
#include "run_ops.h"

namespace ab {

struct Levels {
  uint32_t ancestor_count = 0;
  RunSlot* ancestors[kMaxAncestors] = {};
  uint32_t pool_count = 0;
  uint16_t pool_index[kMaxRunPools] = {};
  PoolSlot* pools[kMaxRunPools] = {};
  const PoolDef* defs[kMaxRunPools] = {};
  uint64_t period[kMaxRunPools] = {};
  bool empty() const { return ancestor_count == 0 && pool_count == 0; }
};

// Resolves the run's levels now (rolling each pool into the current period).
// Ancestors whose slot was recycled and pools out of range are skipped.
void levels_of(const Ledger& l, const RunSlot& s, uint64_t now_unix_s, Levels* out);

// True if the run has any level above it (so its charges need an operation
// record the daemon can repair from).
inline bool has_levels(const RunSlot& s) { return s.ancestor_count != 0 || s.pools[0] != kNoPool; }

// Hard limit of an ancestor (effective, like a run's) and of a pool.
Nanos pool_hard(const PoolDef& d);

// Adds `amount` of spend to every level (aggregates only; the run's own
// spent is done by the caller first). Marks threshold events on the level
// whose line the addition crossed.
void add_spent_to_levels(const Ledger& l, const Levels& lv, Nanos amount);

// Reserves `estimate` on every level, all or none. On failure returns false
// with the reason and, for a pool, its index in *pool.
bool add_held_to_levels(const Ledger& l, const Levels& lv, Nanos estimate, Reason* why, int* pool);

// Returns `estimate` to every level.
void sub_held_from_levels(const Levels& lv, Nanos estimate);

// Marks the start of an operation on every level (hold_seq of ancestors,
// op_seq of pools), so the daemon's repair can tell the levels were quiet.
void touch_levels(const Levels& lv);

}  // namespace ab
