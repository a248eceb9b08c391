#include "levels.h"

#include "config_seqlock.h"
#include "pool_period.h"

namespace ab {

void levels_of(const Ledger& l, const RunSlot& s, uint64_t now_s, Levels* out) {
  *out = Levels{};
  uint32_t n = s.ancestor_count <= uint32_t(kMaxAncestors) ? s.ancestor_count : 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t idx = s.ancestor_index[i];
    if (idx >= l.capacity()) continue;
    RunSlot& a = l.slots()[idx];
    if (word_generation(a.word.load(std::memory_order_acquire)) != s.ancestor_generation[i]) continue;
    out->ancestors[out->ancestor_count++] = &a;
  }
  for (int k = 0; k < kMaxRunPools; ++k) {
    uint16_t p = s.pools[k];
    if (p == kNoPool || p >= l.pool_count()) continue;
    uint32_t j = out->pool_count++;
    out->pool_index[j] = p;
    out->pools[j] = &l.pools()[p];
    out->defs[j] = &l.pool_defs()[p];
    // Period starts are republished by the daemon under the config seqlock;
    // if it died mid-write, stay in the pool's current period.
    uint64_t per = 0;
    if (read_config(*l.config(), [&] { per = period_of(*out->defs[j], int64_t(now_s)); }) != Status::kOk)
      per = out->pools[j]->period_tag.load(std::memory_order_acquire);
    out->period[j] = per;
    roll_pool(*out->pools[j], out->period[j]);
  }
}

Nanos pool_hard(const PoolDef& d) { return d.hard_nanos.load(std::memory_order_relaxed); }

namespace {

// spent + held + estimate <= hard, without overflow.
bool fits(Nanos spent, Nanos held, Nanos estimate, Nanos hard) {
  if (hard == kNoLimit) return true;
  if (estimate > hard || held > hard - estimate) return false;
  return spent <= hard - estimate - held;
}

// Sets a pool event bit for `period`; the bits of an older period are
// dropped when a new one starts. Only the first setter bumps the hint.
void mark_pool_event(const Ledger& l, PoolSlot& p, uint64_t period, uint32_t bit) {
  const uint64_t tag = period & 0xFFFF;
  uint64_t w = p.events.load(std::memory_order_relaxed);
  for (int i = 0; i < 64; ++i) {
    uint64_t bits = (w >> 48) == tag ? (w & 0xFFFFFFFFFFFFull) : 0;
    if (bits & bit) return;
    if (p.events.compare_exchange_weak(w, (tag << 48) | bits | bit, std::memory_order_acq_rel)) {
      l.header()->event_hint.fetch_add(1, std::memory_order_release);
      return;
    }
  }
}

// An ancestor's load: its own spend plus its descendants'.
Nanos ancestor_spent(const RunSlot& a) {
  return a.spent.load(std::memory_order_seq_cst) + a.child_spent.load(std::memory_order_seq_cst);
}

// held += estimate on one level if `spent() + held + estimate <= hard`; the
// same load order and re-check as a run's (see holds.cpp).
template <class SpentFn>
bool add_held_checked(std::atomic<int64_t>& held, SpentFn spent_fn, Nanos estimate, Nanos hard) {
  for (int i = 0; i < 256; ++i) {
    Nanos h = held.load(std::memory_order_seq_cst);
    Nanos s = spent_fn();
    if (!fits(s, h, estimate, hard)) return false;
    if (!held.compare_exchange_weak(h, h + estimate, std::memory_order_seq_cst)) continue;
    Nanos s2 = spent_fn();
    if (s2 == s) return true;
    if (fits(s2, held.load(std::memory_order_seq_cst) - estimate, estimate, hard)) return true;
    held.fetch_sub(estimate, std::memory_order_seq_cst);
  }
  return false;
}

}  // namespace

void add_spent_to_levels(const Ledger& l, const Levels& lv, Nanos amount) {
  for (uint32_t i = 0; i < lv.ancestor_count; ++i) {
    RunSlot& a = *lv.ancestors[i];
    Nanos old_child = a.child_spent.fetch_add(amount, std::memory_order_seq_cst);
    Nanos before = a.spent.load(std::memory_order_seq_cst) + old_child, after = before + amount;
    uint32_t events = 0;
    for (int k = 0; k < kMaxSoftThresholds; ++k) {
      Nanos thr = a.soft_nanos[k].load(std::memory_order_relaxed);
      if (thr != kNoLimit && before < thr && after >= thr) events |= soft_event_bit(k);
    }
    Nanos hard = effective_hard(l, a);
    if (hard != kNoLimit && before < hard && after >= hard) events |= kEventHard;
    if (events) mark_event(l, a, events);
  }
  for (uint32_t j = 0; j < lv.pool_count; ++j) {
    PoolSlot& p = *lv.pools[j];
    const PoolDef& d = *lv.defs[j];
    Nanos old_total = p.total_spent.fetch_add(amount, std::memory_order_seq_cst);
    Nanos base = p.period_base.load(std::memory_order_acquire);
    Nanos before = old_total - base, after = before + amount;
    Nanos hard = pool_hard(d);
    if (hard == kNoLimit) continue;
    for (uint32_t k = 0; k < d.soft_count && k < uint32_t(kMaxSoftThresholds); ++k) {
      Nanos thr = Nanos((__int128)hard * d.soft_permille[k] / 1000);
      if (before < thr && after >= thr) mark_pool_event(l, p, lv.period[j], soft_event_bit(int(k)));
    }
    if (before < hard && after >= hard) mark_pool_event(l, p, lv.period[j], kEventHard);
  }
}

bool add_held_to_levels(const Ledger& l, const Levels& lv, Nanos estimate, Reason* why, int* pool) {
  uint32_t done_a = 0, done_p = 0;
  bool ok = true;
  for (; done_a < lv.ancestor_count && ok; ++done_a) {
    RunSlot& a = *lv.ancestors[done_a];
    if (!add_held_checked(
            a.held, [&] { return ancestor_spent(a); }, estimate, effective_hard(l, a))) {
      ok = false;
      *why = Reason::kParent;
      break;
    }
  }
  for (; ok && done_p < lv.pool_count; ++done_p) {
    PoolSlot& p = *lv.pools[done_p];
    uint64_t period = lv.period[done_p];
    if (!add_held_checked(
            p.held, [&] { return period_spent(p, period); }, estimate, pool_hard(*lv.defs[done_p]))) {
      ok = false;
      *why = Reason::kPool;
      *pool = lv.pool_index[done_p];
      break;
    }
  }
  if (ok) return true;
  for (uint32_t i = 0; i < done_a; ++i) lv.ancestors[i]->held.fetch_sub(estimate, std::memory_order_seq_cst);
  for (uint32_t j = 0; j < done_p; ++j) lv.pools[j]->held.fetch_sub(estimate, std::memory_order_seq_cst);
  return false;
}

void sub_held_from_levels(const Levels& lv, Nanos estimate) {
  for (uint32_t i = 0; i < lv.ancestor_count; ++i) lv.ancestors[i]->held.fetch_sub(estimate, std::memory_order_seq_cst);
  for (uint32_t j = 0; j < lv.pool_count; ++j) lv.pools[j]->held.fetch_sub(estimate, std::memory_order_seq_cst);
}

void touch_levels(const Levels& lv) {
  for (uint32_t i = 0; i < lv.ancestor_count; ++i) lv.ancestors[i]->hold_seq.fetch_add(1, std::memory_order_seq_cst);
  for (uint32_t j = 0; j < lv.pool_count; ++j) lv.pools[j]->op_seq.fetch_add(1, std::memory_order_seq_cst);
}

}  // namespace ab
