#include "run_ops.h"

#include "crash_point.h"

#include "clock.h"
#include "hold_table.h"
#include "levels.h"
#include "pool_period.h"
#include "run_limits.h"

namespace ab {

// Checks that the handle still names the run it was begun for. Relaxed is
// enough: we only compare the generation and state, and every counter we
// touch afterwards is an independent atomic.
static Status check_handle(const Ledger& l, const RunRef& r, SlotState* state) {
  uint64_t w = r.slot->word.load(std::memory_order_relaxed);
  if (word_generation(w) != r.generation) return Status::kStaleHandle;
  *state = word_state(w);
  if (*state != SlotState::kActive && *state != SlotState::kClosed) return Status::kStaleHandle;
  // A policy index the config does not have would make the run unlimited.
  if (!l.policy_of(*r.slot)) return Status::kCorrupt;
  return Status::kOk;
}

Nanos effective_hard(const Ledger& l, const RunSlot& s) {
  Nanos h = s.client_hard.load(std::memory_order_relaxed);
  if (const Policy* p = l.policy_of(s)) {
    Nanos ph = p->hard_nanos.load(std::memory_order_relaxed);
    if (ph < h) h = ph;
  }
  return h;
}

void mark_event(const Ledger& l, RunSlot& s, uint32_t bits) {
  uint32_t before = s.pending_events.fetch_or(bits, std::memory_order_release);
  if ((before & bits) != bits) l.header()->event_hint.fetch_add(1, std::memory_order_release);
}

Nanos run_load(const RunSlot& s) {
  return s.spent.load(std::memory_order_acquire) + s.child_spent.load(std::memory_order_acquire);
}

Status record_spend(const Ledger& l, const RunRef& r, Nanos nanos, const Usage* tokens, ChargeResult* out,
                    bool count_call) {
  RunSlot& s = *r.slot;
  // fetch_add hands each charge a disjoint interval [old, old+nanos): exactly
  // one charge can see a threshold inside its interval.
  Nanos old = s.spent.fetch_add(nanos, std::memory_order_seq_cst);
  if (old > INT64_MAX / 2 - nanos) {  // unreachable in practice; never wrap
    s.spent.fetch_sub(nanos, std::memory_order_relaxed);
    return Status::kOverflow;
  }
  // A parent's limit binds its descendants' spend too.
  Nanos children = s.child_spent.load(std::memory_order_seq_cst);
  old += children;
  Nanos now = old + nanos;
  if (count_call) s.calls.fetch_add(1, std::memory_order_relaxed);
  if (tokens) {
    if (tokens->input) s.input_tokens.fetch_add(tokens->input, std::memory_order_relaxed);
    if (tokens->cache_read) s.cached_tokens.fetch_add(tokens->cache_read, std::memory_order_relaxed);
    uint64_t writes = tokens->cache_write_5m + tokens->cache_write_1h;
    if (writes) s.cache_write_tokens.fetch_add(writes, std::memory_order_relaxed);
    if (tokens->output) s.output_tokens.fetch_add(tokens->output, std::memory_order_relaxed);
    if (tokens->reasoning) s.reasoning_tokens.fetch_add(tokens->reasoning, std::memory_order_relaxed);
  }
  uint64_t t = coarse_unix_ns();
  s.last_charge_unix_ns.store(t, std::memory_order_relaxed);
  if (s.first_charge_unix_ns.load(std::memory_order_relaxed) == 0) {
    uint64_t zero = 0;
    s.first_charge_unix_ns.compare_exchange_strong(zero, t, std::memory_order_relaxed);
  }

  uint32_t flags = 0, events = 0;
  for (int k = 0; k < kMaxSoftThresholds; ++k) {
    Nanos thr = s.soft_nanos[k].load(std::memory_order_relaxed);
    if (thr == kNoLimit) continue;
    if (now >= thr) flags |= kChargeOverSoft;
    if (old < thr && now >= thr) {
      flags |= kChargeCrossedSoft;
      events |= soft_event_bit(k);
    }
  }
  Nanos hard = effective_hard(l, s);
  if (hard != kNoLimit) {
    if (now >= hard) flags |= kChargeOverHard;
    if (old < hard && now >= hard) {
      flags |= kChargeCrossedHard;
      events |= kEventHard;
    }
  }
  if (events) mark_event(l, s, events);
  if (out) *out = ChargeResult{flags, now - children, nanos};
  return Status::kOk;
}

Status charge(const Ledger& l, const RunRef& r, Nanos nanos, const Usage* tokens, ChargeResult* out, bool count_call) {
  if (nanos < 0 || nanos > kMaxAmountNanos) return Status::kInvalidAmount;
  SlotState st;
  if (Status e = check_handle(l, r, &st); e != Status::kOk) return e;
  if (st == SlotState::kClosed) return Status::kRunClosed;
  RunSlot& s = *r.slot;
  if (!has_levels(s)) return record_spend(l, r, nanos, tokens, out, count_call);

  // Several levels: the run first (the truth), then its levels.
  Levels lv;
  LevelsOp op(l, r, &lv);
  Status rs = record_spend(l, r, nanos, tokens, out, count_call);
  if (rs == Status::kOk) {
    AB_CRASH_POINT("charge.run_recorded");
    add_spent_to_levels(l, lv, nanos);
  }
  return rs;
}

Status price_for_run(const Ledger& l, const RunRef& r, std::string_view model, const Usage& usage, Nanos* cost,
                     uint32_t* extra_flags) {
  *extra_flags = 0;
  ModelPrice price;
  Status ps = l.find_price(model, &price);
  bool unpriced = ps == Status::kUnknownModel;
  if (ps != Status::kOk && !unpriced) return ps;
  if (unpriced) {
    const Policy* p = l.policy_of(*r.slot);
    mark_event(l, *r.slot, kEventUnpriced);
    if (!p || p->unknown_model == UnknownModel::kDeny) return Status::kUnknownModel;
    price = ModelPrice{};
    price.tier_count = 1;
    price.tiers[0] =
        PriceTier{0, p->fallback_input, p->fallback_output, kPriceUnset, kPriceUnset, kPriceUnset, kPriceUnset};
    *extra_flags = kChargeUnpriced;
  }
  if (!price_call(price, usage, cost) || *cost > kMaxAmountNanos) return Status::kInvalidUsage;
  return Status::kOk;
}

Status charge_usage(const Ledger& l, const RunRef& r, std::string_view model, const Usage& usage, ChargeResult* out) {
  SlotState st;
  if (Status e = check_handle(l, r, &st); e != Status::kOk) return e;
  if (st == SlotState::kClosed) return Status::kRunClosed;
  Nanos cost = 0;
  uint32_t extra = 0;
  if (Status ps = price_for_run(l, r, model, usage, &cost, &extra); ps != Status::kOk) return ps;
  Status s = charge(l, r, cost, &usage, out);
  if (s == Status::kOk && out) out->flags |= extra;
  return s;
}

Status admit(const Ledger& l, const RunRef& r, Nanos estimate, Decision* out) {
  if (estimate < 0 || estimate > kMaxAmountNanos) return Status::kInvalidAmount;
  SlotState st;
  if (Status e = check_handle(l, r, &st); e != Status::kOk) return e;
  const RunSlot& s = *r.slot;
  Nanos held = s.held.load(std::memory_order_acquire);
  Nanos spent = run_load(s);
  Nanos hard = effective_hard(l, s);
  Nanos used = spent + held;
  Decision d;
  d.remaining = hard == kNoLimit ? kNoLimit : (used < hard ? hard - used : 0);
  RunLimits lim = limits_of(l, s);
  if (st == SlotState::kClosed) {
    d.reason = Reason::kClosed;
  } else if (hard != kNoLimit && (estimate == 0 ? used >= hard : estimate > hard || used > hard - estimate)) {
    d.reason = Reason::kRunHard;
  } else if (lim.max_calls && s.calls.load(std::memory_order_relaxed) >= lim.max_calls) {
    d.reason = Reason::kCalls;
  } else if (lim.max_in_flight && s.in_flight.load(std::memory_order_relaxed) >= lim.max_in_flight) {
    d.reason = Reason::kConcurrency;
  } else if (Reason why = static_limit_reason(s, lim); why != Reason::kNone) {
    d.reason = why;
  } else if (s.pending_events.load(std::memory_order_relaxed) & kEventUnpriced) {
    // An unpriced call under a deny policy left the run's true spend unknown.
    const Policy* p = l.policy_of(s);
    if (!p || p->unknown_model == UnknownModel::kDeny) d.reason = Reason::kUnpriced;
  }
  if (d.reason == Reason::kNone && has_levels(s)) d.reason = levels_deny(l, s, estimate, &d.pool);
  d.allowed = d.reason == Reason::kNone;
  if (!d.allowed) note_denial(l, *r.slot, d);
  if (out) *out = d;
  return d.allowed ? Status::kOk : Status::kDenied;
}

Reason levels_deny(const Ledger& l, const RunSlot& s, Nanos estimate, int* pool) {
  Levels lv;
  levels_of(l, s, coarse_unix_ns() / 1'000'000'000u, &lv);
  auto over = [&](Nanos used, Nanos hard) {
    return hard != kNoLimit && (estimate == 0 ? used >= hard : estimate > hard || used > hard - estimate);
  };
  for (uint32_t i = 0; i < lv.ancestor_count; ++i) {
    const RunSlot& a = *lv.ancestors[i];
    if (over(run_load(a) + a.held.load(std::memory_order_acquire), effective_hard(l, a))) return Reason::kParent;
  }
  for (uint32_t j = 0; j < lv.pool_count; ++j) {
    const PoolSlot& p = *lv.pools[j];
    if (over(period_spent(p, lv.period[j]) + p.held.load(std::memory_order_acquire), pool_hard(*lv.defs[j]))) {
      *pool = lv.pool_index[j];
      return Reason::kPool;
    }
  }
  return Reason::kNone;
}

void note_denial(const Ledger& l, RunSlot& s, const Decision& d) {
  uint32_t v = uint32_t(d.reason) | (d.reason == Reason::kPool ? uint32_t(d.pool + 1) << 16 : 0);
  if (s.last_denial.load(std::memory_order_relaxed) != v) s.last_denial.store(v, std::memory_order_relaxed);
  // The first denial is an event; later ones only update last_denial (a
  // stuck run may be denied millions of times). The plain load keeps the
  // repeated denial free of a shared RMW.
  if (!(s.pending_events.load(std::memory_order_relaxed) & kEventDenied)) mark_event(l, s, kEventDenied);
}

Status admit_fp(const Ledger& l, const RunRef& r, Nanos estimate, uint64_t fingerprint, Decision* out) {
  Status s = admit(l, r, estimate, out);
  if (s != Status::kOk) return s;
  if (loop_denies(*r.slot, fingerprint, limits_of(l, *r.slot).loop_limit)) {
    note_loop(l, *r.slot);
    if (out) *out = Decision{false, Reason::kLoop, out->remaining};
    return Status::kDenied;
  }
  return Status::kOk;
}

void note_loop(const Ledger& l, RunSlot& s) {
  if (!(s.flags.fetch_or(kRunLooped, std::memory_order_relaxed) & kRunLooped)) mark_event(l, s, kEventLoop);
}

Status status_of_slot(const Ledger& l, const RunSlot& s, RunStatus* out) {
  uint64_t w = s.word.load(std::memory_order_acquire);
  RunStatus st{};
  st.state = word_state(w);
  st.generation = word_generation(w);
  st.policy = s.policy;
  st.spent = s.spent.load(std::memory_order_relaxed);
  st.held = s.held.load(std::memory_order_relaxed);
  st.child_spent = s.child_spent.load(std::memory_order_relaxed);
  st.last_denial = s.last_denial.load(std::memory_order_relaxed);
  st.overshoot = s.overshoot.load(std::memory_order_relaxed);
  st.in_flight = s.in_flight.load(std::memory_order_relaxed);
  st.flags = s.flags.load(std::memory_order_relaxed);
  st.hard = effective_hard(l, s);
  for (int k = 0; k < kMaxSoftThresholds; ++k) st.soft[k] = s.soft_nanos[k].load(std::memory_order_relaxed);
  st.calls = s.calls.load(std::memory_order_relaxed);
  st.input_tokens = s.input_tokens.load(std::memory_order_relaxed);
  st.cached_tokens = s.cached_tokens.load(std::memory_order_relaxed);
  st.cache_write_tokens = s.cache_write_tokens.load(std::memory_order_relaxed);
  st.output_tokens = s.output_tokens.load(std::memory_order_relaxed);
  st.reasoning_tokens = s.reasoning_tokens.load(std::memory_order_relaxed);
  st.begun_unix_ns = s.begun_unix_ns;
  st.first_charge_unix_ns = s.first_charge_unix_ns.load(std::memory_order_relaxed);
  st.last_charge_unix_ns = s.last_charge_unix_ns.load(std::memory_order_relaxed);
  st.closed_unix_ns = s.closed_unix_ns.load(std::memory_order_relaxed);
  st.pending_events = s.pending_events.load(std::memory_order_relaxed);
  *out = st;
  return Status::kOk;
}

Status status(const Ledger& l, const RunRef& r, RunStatus* out) {
  SlotState st;
  if (Status e = check_handle(l, r, &st); e != Status::kOk) return e;
  return status_of_slot(l, *r.slot, out);
}

Status end(const Ledger& l, const RunRef& r) {
  RunSlot& s = *r.slot;
  uint64_t w = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (word_generation(w) != r.generation) return Status::kStaleHandle;
    if (word_state(w) == SlotState::kClosed) return Status::kOk;
    if (word_state(w) != SlotState::kActive) return Status::kStaleHandle;
    s.closed_unix_ns.store(unix_ns(), std::memory_order_relaxed);
    uint64_t closed = pack_word(SlotState::kClosed, r.generation, word_pid(w));
    if (s.word.compare_exchange_weak(w, closed, std::memory_order_acq_rel)) break;
  }
  mark_event(l, s, kEventClosed);
  return Status::kOk;
}

}  // namespace ab
