// A run's soft thresholds after its hard limit or its policy changed (a
// reload, `agentbudgetctl set`): they follow the new effective hard limit,
// and a line the run is already past is marked now, once, as the charge
// that crossed it would have (no later charge will cross it any more).
#pragma once
#include "ledger.h"

namespace ab {

// For one run; does nothing unless the slot holds an active run.
void refresh_thresholds(const Ledger& l, RunSlot& s);

}  // namespace ab
