// Claiming and freeing hold slots. A slot is claimed by CAS from kFree to a
// transitional state carrying the claimer's pid; it is freed by a release
// store of kFree with the next generation, so stale handles never match.
#pragma once
#include <cstdint>

#include "ledger.h"
#include "levels.h"

namespace ab {

// Claims a free slot in state `as` for `pid`, starting at a per-thread
// rotating position so that threads rarely contend. nullptr if none is free.
HoldSlot* claim_hold_slot(const Ledger& l, HoldState as, uint32_t pid, uint32_t* index);

void free_hold_slot(HoldSlot& h);

// Fills the owner and run fields of a freshly claimed slot.
void init_hold_slot(HoldSlot& h, const ProcessIdentity& me, uint32_t run_index, uint32_t run_generation, Nanos estimate,
                    uint64_t fingerprint);

// The record of an operation that spans several levels (a charge or an
// adjustment of a run with pools or ancestors): claimed first, in state
// kCharging, so a SIGKILL between two levels is found and repaired by the
// daemon; freed when the operation is done. Also marks the start of the
// operation on the run and its levels (their sequence counters).
class LevelsOp {
 public:
  LevelsOp(const Ledger& l, const RunRef& r, Levels* lv);
  ~LevelsOp();
  LevelsOp(const LevelsOp&) = delete;
  LevelsOp& operator=(const LevelsOp&) = delete;

 private:
  HoldSlot* op_ = nullptr;
};

}  // namespace ab
