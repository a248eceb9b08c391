#include "event_scanner.h"

#include <cstring>

#include "clock.h"
#include "run_ops.h"
#include "status.h"

namespace ab {

static void emit(const std::vector<EventSink*>& sinks, const Event& e) {
  for (EventSink* s : sinks) s->deliver(e);
}

size_t EventScanner::scan(const std::vector<EventSink*>& sinks, bool force) {
  uint64_t hint = ledger_.header()->event_hint.load(std::memory_order_acquire);
  if (!force && hint == last_hint_) return 0;
  last_hint_ = hint;
  size_t delivered = 0;
  RunSlot* slots = ledger_.slots();
  for (uint32_t i = 0; i < ledger_.capacity(); ++i) {
    RunSlot& s = slots[i];
    uint32_t pending = s.pending_events.load(std::memory_order_acquire);
    uint32_t done = s.delivered_events.load(std::memory_order_relaxed);
    uint32_t due = pending & ~done;
    if (!due) continue;
    uint64_t w = s.word.load(std::memory_order_acquire);
    SlotState st = word_state(w);
    if (st != SlotState::kActive && st != SlotState::kClosed) continue;
    RunStatus rs;
    status_of_slot(ledger_, s, &rs);
    Event base;
    base.run_id.assign(s.id, strnlen(s.id, kRunIdMax));
    const Policy* p = ledger_.policy_of(s);
    base.policy = p ? std::string(p->name, strnlen(p->name, sizeof p->name)) : "?";
    base.spent = rs.spent + rs.child_spent;  // a parent's load includes its sub-agents
    base.hard = rs.hard;
    base.calls = rs.calls;
    base.unix_ns = unix_ns();
    // Mark delivered before delivering: a crash between the two loses at
    // most this one notification instead of repeating it forever.
    s.delivered_events.fetch_or(due, std::memory_order_acq_rel);
    for (int k = 0; k < kMaxSoftThresholds; ++k) {
      if (!(due & soft_event_bit(k))) continue;
      Event e = base;
      e.kind = EventKind::kSoftThreshold;
      e.threshold = k;
      e.threshold_nanos = rs.soft[k];
      emit(sinks, e);
      ++delivered;
    }
    if (due & kEventHard) {
      Event e = base;
      e.kind = EventKind::kHardLimit;
      e.threshold_nanos = rs.hard;
      emit(sinks, e);
      ++delivered;
    }
    if (due & kEventUnpriced) {
      Event e = base;
      e.kind = EventKind::kUnpricedModel;
      emit(sinks, e);
      ++delivered;
    }
    if (due & kEventLoop) {
      Event e = base;
      e.kind = EventKind::kLoopDetected;
      emit(sinks, e);
      ++delivered;
    }
    if (due & kEventDenied) {
      Event e = base;
      e.kind = EventKind::kCallDenied;
      uint32_t why = rs.last_denial;
      e.reason = reason_name(Reason(why & 0xFFFF));
      if (Reason(why & 0xFFFF) == Reason::kPool && (why >> 16) && (why >> 16) <= ledger_.pool_count()) {
        const PoolDef& d = ledger_.pool_defs()[(why >> 16) - 1];
        e.pool.assign(d.name, strnlen(d.name, sizeof d.name));
      }
      emit(sinks, e);
      ++delivered;
    }
    if (due & kEventClosed) {
      Event e = base;
      e.kind = EventKind::kRunClosed;
      e.begun_unix_ns = rs.begun_unix_ns;
      e.closed_unix_ns = rs.closed_unix_ns;
      e.input_tokens = rs.input_tokens;
      e.cached_tokens = rs.cached_tokens;
      e.cache_write_tokens = rs.cache_write_tokens;
      e.output_tokens = rs.output_tokens;
      e.reasoning_tokens = rs.reasoning_tokens;
      e.commit_excess = rs.overshoot;
      emit(sinks, e);
      ++delivered;
    }
  }
  return delivered + scan_pools(sinks);
}

size_t EventScanner::scan_pools(const std::vector<EventSink*>& sinks) {
  size_t delivered = 0;
  uint32_t n = ledger_.pool_count();
  if (seen_period_.size() < n) {
    size_t old = seen_period_.size();
    seen_period_.resize(n);
    for (size_t i = old; i < n; ++i) seen_period_[i] = ledger_.pools()[i].period_tag.load(std::memory_order_acquire);
  }
  for (uint32_t i = 0; i < n; ++i) {
    PoolSlot& p = ledger_.pools()[i];
    const PoolDef& d = ledger_.pool_defs()[i];
    Event base;
    base.pool.assign(d.name, strnlen(d.name, sizeof d.name));
    base.hard = d.hard_nanos.load(std::memory_order_relaxed);
    base.unix_ns = unix_ns();
    uint64_t tag = p.period_tag.load(std::memory_order_acquire);
    // A pool never used before (tag 0) starts its first period: no rollover.
    if (tag != seen_period_[i] && seen_period_[i] == 0) seen_period_[i] = tag;
    if (tag != seen_period_[i]) {
      Event e = base;
      e.kind = EventKind::kPoolPeriodRolled;
      e.period = p.previous_tag.load(std::memory_order_relaxed);
      e.spent = p.previous_spent.load(std::memory_order_relaxed);
      seen_period_[i] = tag;
      emit(sinks, e);
      ++delivered;
    }
    uint64_t ev = p.events.load(std::memory_order_acquire);
    uint64_t done = p.delivered.load(std::memory_order_relaxed);
    uint64_t bits = ev & 0xFFFFFFFFFFFFull;
    uint64_t due = (ev >> 48) == (done >> 48) ? bits & ~done : bits;
    if (!due) continue;
    // Before delivering, as for runs. The forecaster's bit of this period
    // (clients never set it) is kept.
    uint64_t forecast = (ev >> 48) == (done >> 48) ? done & kEventForecast : 0;
    p.delivered.store(ev | forecast, std::memory_order_release);
    base.period = tag;
    base.spent = p.total_spent.load(std::memory_order_relaxed) - p.period_base.load(std::memory_order_relaxed);
    for (uint32_t k = 0; k < d.soft_count && k < uint32_t(kMaxSoftThresholds); ++k) {
      if (!(due & soft_event_bit(int(k)))) continue;
      Event e = base;
      e.kind = EventKind::kPoolSoftThreshold;
      e.threshold = int(k);
      e.threshold_nanos = base.hard == kNoLimit ? 0 : Nanos((__int128)base.hard * d.soft_permille[k] / 1000);
      emit(sinks, e);
      ++delivered;
    }
    if (due & kEventHard) {
      Event e = base;
      e.kind = EventKind::kPoolHardLimit;
      e.threshold_nanos = base.hard;
      emit(sinks, e);
      ++delivered;
    }
  }
  return delivered;
}

}  // namespace ab
