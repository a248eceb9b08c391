// Operator corrections: an explicit, audited adjustment of a run's spend
// (a refund is a negative one). Not in the C ABI: agents cannot refund
// themselves. Applied like a charge -- the run first, then its pools and
// ancestors, under an operation record the daemon can repair from -- and
// thresholds the run falls back under are re-armed so they notify again.
#pragma once
#include <string>

#include "ledger.h"

namespace ab {

struct Adjustment {
  Nanos delta = 0;  // may be negative
  Nanos spent_before = 0;
  Nanos spent_after = 0;
};

// kInvalidAmount if the result would be negative or |delta| > $1,000,000.
Status adjust_spent(const Ledger& l, const RunRef& r, Nanos delta, Adjustment* out);

}  // namespace ab
