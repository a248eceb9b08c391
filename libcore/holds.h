// Reservations: reserve(estimate) -> hold; commit(hold, actual) or
// release(hold). A hold is granted only if spent + held + estimate <= hard,
// so concurrency can never push a run past its hard limit. Hot path: CAS
// loops with bounded retries, no lock, no syscall, no allocation.
#pragma once
#include <cstdint>

#include "ledger.h"
#include "run_ops.h"

namespace ab {

struct HoldRef {
  uint32_t index = 0;
  uint32_t generation = 0;
};

// Also the admission of one call: checks closed, duration, tokens, unpriced,
// the loop guard (fingerprint 0 = none), max calls (a granted hold counts a
// call), max in flight and the hard limit. kDenied with the reason, or kOk.
Status reserve(const Ledger& l, const RunRef& r, Nanos estimate, uint64_t fingerprint, HoldRef* out, Decision* d);

// Records `actual` (it may exceed the estimate: the excess is recorded and
// added to the run's overshoot) and returns the hold. If the daemon already
// reclaimed the hold (its owner looked dead, or its lease ran out) the money
// is still recorded, as a plain charge, and kChargeHoldExpired is set.
Status commit(const Ledger& l, const RunRef& r, HoldRef h, Nanos actual, const Usage* tokens, ChargeResult* out);
Status commit_usage(const Ledger& l, const RunRef& r, HoldRef h, std::string_view model, const Usage& usage,
                    ChargeResult* out);

// Returns the hold unused: the call was not made, so it is not counted.
Status release(const Ledger& l, const RunRef& r, HoldRef h);

// Worst-case cost of a call: `prompt_tokens` uncached input and
// `max_output_tokens` of output (0: the model's maximum from the price
// table), tier-aware, at the higher of the output and reasoning rates.
Status estimate_call(const Ledger& l, std::string_view model, uint64_t prompt_tokens, uint64_t max_output_tokens,
                     Nanos* out);
// Output bound assumed for a model missing from the price table when the
// caller gives none: as much as the largest models write in one answer.
inline constexpr uint64_t kUnknownModelMaxOutput = 65536;

// The same for a run: an unknown model is estimated at the run's policy's
// fallback rates (with kUnknownModelMaxOutput if no bound is given), or
// refused with kUnknownModel under a deny policy.
Status estimate_for_run(const Ledger& l, const RunRef& r, std::string_view model, uint64_t prompt_tokens,
                        uint64_t max_output_tokens, Nanos* out);

// Daemon side: releases a hold whose owner is gone or whose lease ran out
// (the call may have been made, so the run keeps the call counted). A hold
// whose owner lives is left kExpired for its late commit; a dead owner's is
// freed.
bool reclaim_hold(const Ledger& l, uint32_t index, const ProcessIdentity& daemon, bool owner_alive);

}  // namespace ab
