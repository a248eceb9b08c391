// Which period of a pool a given instant falls in, computed by every client
// from the clock and the pool's definition (no sweeper that may be late):
// a period rolls over exactly at its boundary.
#pragma once
#include <cstdint>

#include "layout.h"

namespace ab {

// Period number of `now_unix_s` for `def` (0 for pools without periods).
// Calendar pools: the number of the last published start <= now; before the
// first start, period first_period - 1; past the last one, the last period
// (the daemon republishes starts long before they run out).
uint64_t period_of(const PoolDef& def, int64_t now_unix_s);

// Start of the period after `period` (unix seconds), or INT64_MAX if none
// is known: status and forecasts show when a pool resets.
int64_t next_reset(const PoolDef& def, uint64_t period);

// The pool's spend in `period` as seen now, following the rollover protocol
// of PoolSlot: 0 if the pool has not reached `period` yet.
int64_t period_spent(const PoolSlot& p, uint64_t period);

// Moves the pool into `period` if it is behind (the first caller to see the
// new period does it; the others see it done). Keeps the previous period's
// spend for history.
void roll_pool(PoolSlot& p, uint64_t period);

}  // namespace ab
