// Gives the slots of ended runs back to the run table, so a long-lived
// ledger never fills up with finished runs.
//
// A closed run is recycled once its grace period has passed (handles held
// by stragglers then see AB_ERR_STALE_HANDLE, never another run), its events
// are delivered, no hold refers to it, and no active run is its descendant
// or ancestor. Its spend is first folded into its pools' archived_spent, so
// pool totals stay the sum of their runs. Then the slot becomes a
// tombstone, and tombstones that no live run's probe path crosses become
// empty with the next generation, inside DataHeader::recycle_epoch's odd
// window (see RunSlot in libcore/layout.h for why begins stay unique).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ledger.h"

namespace ab {

struct RecycleStats {
  size_t recycled = 0;  // closed runs retired
  size_t emptied = 0;   // tombstones made empty
};

class SlotRecycler {
 public:
  SlotRecycler(Ledger& l, uint64_t grace_s) : ledger_(l), grace_ns_(grace_s * 1'000'000'000ull) {}
  RecycleStats pass(uint64_t now_unix_ns);

 private:
  bool recyclable(uint32_t index, uint64_t now, const std::vector<bool>& held) const;

  Ledger& ledger_;
  uint64_t grace_ns_;
};

}  // namespace ab
