#include "pool_period.h"

namespace ab {

uint64_t period_of(const PoolDef& def, int64_t now) {
  switch (def.period) {
    case PeriodKind::kNone: return 0;
    case PeriodKind::kRolling:
      if (def.rolling_s == 0 || now < def.anchor_unix_s) return 0;
      return uint64_t(now - def.anchor_unix_s) / def.rolling_s;
    case PeriodKind::kCalendar: {
      uint32_t n = def.start_count <= uint32_t(kPeriodBoundaries) ? def.start_count : 0;
      if (n == 0 || now < def.starts[0]) return def.first_period ? def.first_period - 1 : 0;
      // Binary search for the last start <= now.
      uint32_t lo = 0, hi = n;
      while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (def.starts[mid] <= now)
          lo = mid;
        else
          hi = mid;
      }
      return def.first_period + lo;
    }
  }
  return 0;
}

int64_t next_reset(const PoolDef& def, uint64_t period) {
  switch (def.period) {
    case PeriodKind::kNone: return INT64_MAX;
    case PeriodKind::kRolling: return def.anchor_unix_s + int64_t((period + 1) * def.rolling_s);
    case PeriodKind::kCalendar: {
      uint32_t n = def.start_count <= uint32_t(kPeriodBoundaries) ? def.start_count : 0;
      uint64_t i = period + 1 - def.first_period;  // index of the next start
      if (period + 1 < def.first_period || i >= n) return INT64_MAX;
      return def.starts[i];
    }
  }
  return INT64_MAX;
}

int64_t period_spent(const PoolSlot& p, uint64_t period) {
  uint64_t tag = p.period_tag.load(std::memory_order_acquire);
  int64_t total = p.total_spent.load(std::memory_order_acquire);
  if (tag < period) return 0;  // nobody has spent in `period` yet
  // An unfinished rollover leaves the previous base: the period looks
  // fuller than it is (a denial, never an overshoot).
  int64_t base = p.period_base.load(std::memory_order_acquire);
  return total - base;
}

void roll_pool(PoolSlot& p, uint64_t period) {
  uint64_t tag = p.period_tag.load(std::memory_order_acquire);
  while (tag < period) {
    // The base is read before the CAS: a charge landing in between counts
    // in the new period (a little early, never lost from the new period).
    int64_t total = p.total_spent.load(std::memory_order_acquire);
    if (p.period_tag.compare_exchange_weak(tag, period, std::memory_order_acq_rel)) {
      int64_t old_base = p.period_base.load(std::memory_order_relaxed);
      p.previous_spent.store(total - old_base, std::memory_order_relaxed);
      p.previous_tag.store(tag, std::memory_order_relaxed);
      p.period_base.store(total, std::memory_order_release);
      p.base_tag.store(period, std::memory_order_release);
      return;
    }
  }
}

}  // namespace ab
