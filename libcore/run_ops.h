// Operations on an open run: the hot path. Each is a handful of atomic
// instructions on the mapped ledger: no lock, no syscall (the clock is the
// vDSO's), no allocation, no exception.
#pragma once
#include <cstdint>

#include "ledger.h"
#include "status.h"
#include "usage.h"

namespace ab {

// Largest amount one call may charge or reserve: $1,000,000. Anything above
// is a unit bug (dollars passed as nanos), not a cost.
inline constexpr Nanos kMaxAmountNanos = 1'000'000 * kNanosPerUsd;

enum ChargeFlag : uint32_t {
  kChargeOverSoft = 1u << 0,     // spent is at or past a soft threshold
  kChargeOverHard = 1u << 1,     // spent is at or past the hard limit
  kChargeCrossedSoft = 1u << 2,  // this charge crossed a soft threshold
  kChargeCrossedHard = 1u << 3,  // this charge reached the hard limit
  kChargeUnpriced = 1u << 4,     // priced at the policy's fallback rate
  kChargeHoldExpired = 1u << 5,  // commit after the hold was reclaimed: recorded as a charge
};

struct ChargeResult {
  uint32_t flags = 0;
  Nanos spent = 0;    // spent right after this charge (this charge's view)
  Nanos charged = 0;  // what this charge recorded
};

struct Decision {
  bool allowed = false;
  Reason reason = Reason::kNone;
  Nanos remaining = 0;  // hard - spent (kNoLimit if none), never negative
  int pool = -1;        // for Reason::kPool: the pool's index
};

struct RunStatus {
  SlotState state;
  uint32_t generation;
  uint16_t policy;
  Nanos spent, child_spent, held, overshoot, hard, soft[kMaxSoftThresholds];
  uint32_t in_flight, flags, last_denial;
  uint64_t calls, input_tokens, cached_tokens, cache_write_tokens, output_tokens, reasoning_tokens;
  uint64_t begun_unix_ns, first_charge_unix_ns, last_charge_unix_ns, closed_unix_ns;
  uint32_t pending_events;
};

// The run's hard limit now: the lower of its policy's (live, operator-set)
// and the caller's requested cap.
Nanos effective_hard(const Ledger& l, const RunSlot& s);

// Records `nanos` (one call) against the run, always, even past the limit.
// `tokens` may be null. kInvalidAmount for nanos < 0 or > kMaxAmountNanos.
// `count_call` is false for commits: a reservation counted the call already.
Status charge(const Ledger& l, const RunRef& r, Nanos nanos, const Usage* tokens, ChargeResult* out,
              bool count_call = true);

// Prices `usage` of `model` for this run: the price table, or for an
// unknown model the policy's fallback rate (extra_flags = kChargeUnpriced)
// or kUnknownModel under a deny policy. Marks the unpriced_model event.
Status price_for_run(const Ledger& l, const RunRef& r, std::string_view model, const Usage& usage, Nanos* cost,
                     uint32_t* extra_flags);

// Prices `usage` for `model` with the ledger's price table, then charges it.
// Unknown model: per the run's policy, kUnknownModel (nothing recorded, the
// run is marked so later admissions are denied) or the fallback rate
// (kChargeUnpriced set). Either way one unpriced_model event is marked.
Status charge_usage(const Ledger& l, const RunRef& r, std::string_view model, const Usage& usage, ChargeResult* out);

// Would a call costing up to `estimate` be allowed now? With estimate 0 it
// asks "is any budget left" (spent + held < hard); else spent + held +
// estimate <= hard. Also denies on max calls, tokens, duration and calls in
// flight. Reserves nothing and changes nothing.
Status admit(const Ledger& l, const RunRef& r, Nanos estimate, Decision* out);

// admit() plus the loop guard: records `fingerprint` (0 = none) as the
// run's latest call; the call that makes loop_limit identical ones in a row
// is denied with Reason::kLoop.
Status admit_fp(const Ledger& l, const RunRef& r, Nanos estimate, uint64_t fingerprint, Decision* out);

Status status(const Ledger& l, const RunRef& r, RunStatus* out);
Status status_of_slot(const Ledger& l, const RunSlot& s, RunStatus* out);

// A run's load against its hard limit: its own spend plus its descendants'.
Nanos run_load(const RunSlot& s);

// Records `nanos` on the run itself (the truth): counters, timestamps and
// threshold events. Callers apply it to the levels above.
Status record_spend(const Ledger& l, const RunRef& r, Nanos nanos, const Usage* tokens, ChargeResult* out,
                    bool count_call);

// The first level above the run (ancestor or pool) that has no room for
// `estimate`; kNone if all have. *pool receives a denying pool's index.
Reason levels_deny(const Ledger& l, const RunSlot& s, Nanos estimate, int* pool);

// Remembers the run's latest denial for status (only on change).
void note_denial(const Ledger& l, RunSlot& s, const Decision& d);

// Sets event bits on the run (fetch_or) and bumps the daemon's hint if any
// bit is new. The one caller that sets a bit first is the one that crossed.
void mark_event(const Ledger& l, RunSlot& s, uint32_t bits);
// Flags the run as looped and marks the loop_detected event once.
void note_loop(const Ledger& l, RunSlot& s);

// Ends the run for every process: later admissions are denied (kClosed),
// later charges refused with kRunClosed. Idempotent.
Status end(const Ledger& l, const RunRef& r);

}  // namespace ab
