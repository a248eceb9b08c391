// Reclaims holds whose owner died or whose lease ran out, and repairs runs
// left half-updated by a process killed in the middle of a reservation,
// commit or release. Runs in the daemon every tick.
//
// Repair: a SIGKILL between two counter updates can leave run.held and
// run.in_flight disagreeing with the holds. Both are sums over the run's
// ACTIVE holds, so the reaper recomputes them -- but only at a quiescent
// moment: no live process mid-transition on that run, and run.hold_seq
// (bumped at the start of every hold transition) unchanged across the scan.
// The corrected values are installed with CAS, so a concurrent update makes
// the repair retry on the next pass instead of overwriting it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "ledger.h"
#include "process_identity.h"

namespace ab {

struct ReapStats {
  size_t released_dead = 0;    // ACTIVE holds of dead owners released
  size_t released_lease = 0;   // ACTIVE holds past their policy's lease released
  size_t repaired = 0;         // interrupted transitions repaired
  size_t pending_repairs = 0;  // interrupted transitions waiting for quiescence
};

class HoldReaper {
 public:
  HoldReaper(Ledger& l, ProcessIdentity daemon) : ledger_(l), self_(daemon) {}
  ReapStats pass(uint64_t now_unix_ns);

 private:
  Liveness liveness(uint32_t pid, uint64_t ticks);
  bool repair_run(uint32_t run_index, uint32_t run_generation);

  Ledger& ledger_;
  ProcessIdentity self_;
  std::unordered_map<uint64_t, Liveness> seen_;  // per pass: (pid, ticks) -> liveness
};

}  // namespace ab
