#include "holds.h"

#include <atomic>

#include "clock.h"
#include "crash_point.h"
#include "hold_table.h"
#include "levels.h"
#include "run_limits.h"

namespace ab {
namespace {

constexpr int kCasRetries = 256;

// Increments `c` if it is below `max` (0 = unlimited).
template <class T>
bool increment_below(std::atomic<T>& c, uint64_t max) {
  T v = c.load(std::memory_order_relaxed);
  for (int i = 0; i < kCasRetries; ++i) {
    if (max && uint64_t(v) >= max) return false;
    if (c.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

// spent + held + estimate <= hard, without overflow.
bool fits(Nanos spent, Nanos held, Nanos estimate, Nanos hard) {
  if (hard == kNoLimit) return true;
  if (estimate > hard || held > hard - estimate) return false;
  return spent <= hard - estimate - held;
}

// Adds `estimate` to run.held if it fits. The held load comes before the
// spent load and a commit adds to spent before it subtracts from held, so
// the pair never under-counts; if spent moved between our load and our CAS,
// we check again with fresh values and undo on failure.
bool add_held(const Ledger& l, RunSlot& s, Nanos estimate) {
  for (int i = 0; i < kCasRetries; ++i) {
    Nanos held = s.held.load(std::memory_order_acquire);
    Nanos spent = run_load(s);
    Nanos hard = effective_hard(l, s);
    if (!fits(spent, held, estimate, hard)) return false;
    if (!s.held.compare_exchange_weak(held, held + estimate, std::memory_order_acq_rel)) continue;
    Nanos spent2 = run_load(s);
    if (spent2 == spent) return true;
    Nanos held2 = s.held.load(std::memory_order_acquire);
    if (fits(spent2, held2 - estimate, estimate, hard)) return true;
    s.held.fetch_sub(estimate, std::memory_order_acq_rel);
  }
  return false;
}

// Validates a hold handle against the run and moves it ACTIVE -> `to`.
HoldSlot* take_hold(const Ledger& l, const RunRef& r, HoldRef ref, HoldState to, uint32_t pid) {
  if (ref.index >= l.hold_capacity()) return nullptr;
  HoldSlot& h = l.holds()[ref.index];
  uint64_t w = h.word.load(std::memory_order_acquire);
  if (hold_state(w) != HoldState::kActive || word_generation(w) != ref.generation) return nullptr;
  if (h.run_index != r.index || h.run_generation != r.generation) return nullptr;
  if (!h.word.compare_exchange_strong(w, pack_hold(to, ref.generation, pid), std::memory_order_seq_cst)) return nullptr;
  return &h;
}

// Frees a hold the daemon expired (lease over) if it is this handle's.
bool take_expired(const Ledger& l, const RunRef& r, HoldRef ref) {
  if (ref.index >= l.hold_capacity()) return false;
  HoldSlot& h = l.holds()[ref.index];
  uint64_t w = h.word.load(std::memory_order_acquire);
  if (hold_state(w) != HoldState::kExpired || word_generation(w) != ref.generation) return false;
  if (h.run_index != r.index || h.run_generation != r.generation) return false;
  return h.word.compare_exchange_strong(w, pack_hold(HoldState::kFree, ref.generation + 1, 0),
                                        std::memory_order_seq_cst);
}

}  // namespace

Status reserve(const Ledger& l, const RunRef& r, Nanos estimate, uint64_t fingerprint, HoldRef* out, Decision* d) {
  if (estimate < 0 || estimate > kMaxAmountNanos) return Status::kInvalidAmount;
  Decision dec;
  Status s = admit(l, r, estimate, &dec);
  if (s != Status::kOk && s != Status::kDenied) return s;
  RunSlot& run = *r.slot;
  RunLimits lim = limits_of(l, run);
  auto deny = [&](Reason why) {
    dec.allowed = false;
    dec.reason = why;
    if (d) *d = dec;
    return Status::kDenied;
  };
  if (!dec.allowed) return deny(dec.reason);
  if (loop_denies(run, fingerprint, lim.loop_limit)) {
    note_loop(l, run);
    return deny(Reason::kLoop);
  }

  ProcessIdentity me = l.identity();
  uint32_t index = 0;
  HoldSlot* h = claim_hold_slot(l, HoldState::kReserving, me.pid, &index);
  if (!h) return Status::kTableFull;
  init_hold_slot(*h, me, r.index, r.generation, estimate, fingerprint);
  Levels lv;
  if (has_levels(run)) levels_of(l, run, coarse_unix_ns() / 1'000'000'000u, &lv);
  run.hold_seq.fetch_add(1, std::memory_order_seq_cst);
  touch_levels(lv);

  Reason why = Reason::kNone;
  int pool = -1;
  if (!increment_below(run.calls, lim.max_calls)) {
    why = Reason::kCalls;
  } else {
    h->stage.fetch_or(kStageCalls, std::memory_order_release);
    if (!increment_below(run.in_flight, lim.max_in_flight)) {
      why = Reason::kConcurrency;
    } else {
      h->stage.fetch_or(kStageInFlight, std::memory_order_release);
      if (!add_held(l, run, estimate)) {
        why = Reason::kRunHard;
      } else {
        h->stage.fetch_or(kStageHeld, std::memory_order_release);
        AB_CRASH_POINT("reserve.run_held");
        if (!lv.empty() && !add_held_to_levels(l, lv, estimate, &why, &pool))
          run.held.fetch_sub(estimate, std::memory_order_seq_cst);
      }
    }
  }
  if (why != Reason::kNone) {  // undo in reverse order, then free the slot
    uint32_t st = h->stage.load(std::memory_order_relaxed);
    if (st & kStageInFlight) run.in_flight.fetch_sub(1, std::memory_order_acq_rel);
    if (st & kStageCalls) run.calls.fetch_sub(1, std::memory_order_acq_rel);
    free_hold_slot(*h);
    dec.pool = pool;
    note_denial(l, run, Decision{false, why, dec.remaining, pool});
    return deny(why);
  }
  uint64_t w = h->word.load(std::memory_order_relaxed);
  h->word.store(pack_hold(HoldState::kActive, word_generation(w), me.pid), std::memory_order_seq_cst);
  *out = HoldRef{index, word_generation(w)};
  dec.allowed = true;
  dec.reason = Reason::kNone;
  if (d) *d = dec;
  return Status::kOk;
}

Status commit(const Ledger& l, const RunRef& r, HoldRef ref, Nanos actual, const Usage* tokens, ChargeResult* out) {
  if (actual < 0 || actual > kMaxAmountNanos) return Status::kInvalidAmount;
  ProcessIdentity me = l.identity();
  HoldSlot* h = take_hold(l, r, ref, HoldState::kCommitting, me.pid);
  RunSlot& run = *r.slot;
  if (!h) {
    // Released by the daemon when its lease ran out: the money was spent all
    // the same. Anything else (settled already, forged) changes nothing.
    if (!take_expired(l, r, ref)) return Status::kStaleHandle;
    Status s = charge(l, r, actual, tokens, out, /*count_call=*/false);
    if (s == Status::kOk && out) out->flags |= kChargeHoldExpired;
    return s;
  }
  Levels lv;
  if (has_levels(run)) levels_of(l, run, coarse_unix_ns() / 1'000'000'000u, &lv);
  run.hold_seq.fetch_add(1, std::memory_order_seq_cst);
  touch_levels(lv);
  h->stage.store(0, std::memory_order_relaxed);
  h->actual.store(actual, std::memory_order_relaxed);
  // The truth first (the run's spent), then the levels; spent before held
  // everywhere, so a concurrent reserver never sees a pair under-count.
  Status s = record_spend(l, r, actual, tokens, out, /*count_call=*/false);
  if (s == Status::kOk) {
    h->stage.fetch_or(kStageSpent, std::memory_order_release);
    AB_CRASH_POINT("commit.run_recorded");
    add_spent_to_levels(l, lv, actual);
  }
  run.held.fetch_sub(h->estimate, std::memory_order_seq_cst);
  sub_held_from_levels(lv, h->estimate);
  h->stage.fetch_or(kStageHeld, std::memory_order_release);
  run.in_flight.fetch_sub(1, std::memory_order_acq_rel);
  if (actual > h->estimate) run.overshoot.fetch_add(actual - h->estimate, std::memory_order_relaxed);
  free_hold_slot(*h);
  return s;
}

Status commit_usage(const Ledger& l, const RunRef& r, HoldRef ref, std::string_view model, const Usage& usage,
                    ChargeResult* out) {
  Nanos cost = 0;
  uint32_t extra = 0;
  Status s = price_for_run(l, r, model, usage, &cost, &extra);
  if (s != Status::kOk) {
    release(l, r, ref);  // no price under a deny policy: nothing is recorded
    return s;
  }
  s = commit(l, r, ref, cost, &usage, out);
  if (s == Status::kOk && out) out->flags |= extra;
  return s;
}

Status release(const Ledger& l, const RunRef& r, HoldRef ref) {
  ProcessIdentity me = l.identity();
  HoldSlot* h = take_hold(l, r, ref, HoldState::kReleasing, me.pid);
  if (!h) return take_expired(l, r, ref) ? Status::kOk : Status::kStaleHandle;
  RunSlot& run = *r.slot;
  Levels lv;
  if (has_levels(run)) levels_of(l, run, coarse_unix_ns() / 1'000'000'000u, &lv);
  run.hold_seq.fetch_add(1, std::memory_order_seq_cst);
  touch_levels(lv);
  run.held.fetch_sub(h->estimate, std::memory_order_seq_cst);
  sub_held_from_levels(lv, h->estimate);
  run.in_flight.fetch_sub(1, std::memory_order_acq_rel);
  run.calls.fetch_sub(1, std::memory_order_acq_rel);  // the call was not made
  free_hold_slot(*h);
  return Status::kOk;
}

bool reclaim_hold(const Ledger& l, uint32_t index, const ProcessIdentity& daemon, bool owner_alive) {
  HoldSlot& h = l.holds()[index];
  uint64_t w = h.word.load(std::memory_order_acquire);
  if (hold_state(w) != HoldState::kActive) return false;
  if (!h.word.compare_exchange_strong(w, pack_hold(HoldState::kReleasing, word_generation(w), daemon.pid),
                                      std::memory_order_seq_cst))
    return false;
  h.owner_start_ticks.store(daemon.start_ticks, std::memory_order_relaxed);
  AB_CRASH_POINT("reclaim.marked");
  if (h.run_index < l.capacity()) {
    RunSlot& run = l.slots()[h.run_index];
    if (word_generation(run.word.load(std::memory_order_acquire)) == h.run_generation) {
      Levels lv;
      if (has_levels(run)) levels_of(l, run, coarse_unix_ns() / 1'000'000'000u, &lv);
      run.hold_seq.fetch_add(1, std::memory_order_seq_cst);
      touch_levels(lv);
      run.held.fetch_sub(h.estimate, std::memory_order_seq_cst);
      AB_CRASH_POINT("reclaim.run_released");
      sub_held_from_levels(lv, h.estimate);
      run.in_flight.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  if (owner_alive)
    h.word.store(pack_hold(HoldState::kExpired, word_generation(w), daemon.pid), std::memory_order_seq_cst);
  else
    free_hold_slot(h);
  return true;
}

static Status worst_case(ModelPrice m, uint64_t prompt_tokens, uint64_t max_output_tokens, Nanos* out);

Status estimate_call(const Ledger& l, std::string_view model, uint64_t prompt_tokens, uint64_t max_output_tokens,
                     Nanos* out) {
  ModelPrice m;
  Status s = l.find_price(model, &m);
  if (s != Status::kOk) return s;
  return worst_case(m, prompt_tokens, max_output_tokens, out);
}

Status estimate_for_run(const Ledger& l, const RunRef& r, std::string_view model, uint64_t prompt_tokens,
                        uint64_t max_output_tokens, Nanos* out) {
  ModelPrice m;
  Status s = l.find_price(model, &m);
  if (s == Status::kUnknownModel) {
    const Policy* p = l.policy_of(*r.slot);
    if (!p || p->unknown_model == UnknownModel::kDeny) return s;
    m = ModelPrice{};
    m.max_output_tokens = kUnknownModelMaxOutput;
    m.tier_count = 1;
    m.tiers[0] =
        PriceTier{0, p->fallback_input, p->fallback_output, kPriceUnset, kPriceUnset, kPriceUnset, kPriceUnset};
  } else if (s != Status::kOk) {
    return s;
  }
  return worst_case(m, prompt_tokens, max_output_tokens, out);
}

static Status worst_case(ModelPrice m, uint64_t prompt_tokens, uint64_t max_output_tokens, Nanos* out) {
  Usage u;
  u.input = prompt_tokens;
  u.output = max_output_tokens ? max_output_tokens : m.max_output_tokens;
  if (u.output == 0) return Status::kInvalidUsage;  // no bound known: the caller must give one
  // Worst case: every output token at the dearer of the output and reasoning rates.
  for (int t = 0; t < int(m.tier_count) && t < kMaxTiers; ++t)
    if (m.tiers[t].reasoning > m.tiers[t].output) m.tiers[t].output = m.tiers[t].reasoning;
  return price_call(m, u, out) ? Status::kOk : Status::kInvalidUsage;
}

}  // namespace ab
