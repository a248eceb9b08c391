// Named fault-injection points for crash tests. Compiled only into builds
// configured with -DAB_CRASH_POINTS=ON (the ASan test build); elsewhere
// AB_CRASH_POINT(name) is nothing at all, so shipped binaries have none.
//
// A process dies by SIGKILL, exactly where a point is, the N-th time it
// passes the point named by its environment variable AB_CRASH_AT=NAME[:N].
// The variable is read at the first pass of each process (a forked child
// that sets it reads it again), so it works for programs a test starts,
// such as agentbudgetd, and for children a test forks. Each copy of
// libcore (a program's, libagentbudget.so's) counts on its own.
//
// Points (grep AB_CRASH_POINT for the exact places):
//   begin.claimed          a new run's slot claimed, nothing written in it
//   begin.filled           the slot filled, not yet published as active
//   charge.run_recorded    a charge on the run, not yet on its pools/parents
//   reserve.run_held       a hold counted on the run, not on its pools/parents
//   commit.run_recorded    a commit's spend on the run, not on its levels
//   reclaim.marked         the daemon took a dead owner's hold, nothing undone
//   reclaim.run_released   ... released on the run, not on its pools/parents
//   snapshot.tmp_written   the new snapshot in FILE.tmp, not yet renamed
#pragma once

namespace ab {

#ifdef AB_CRASH_POINTS
// Counts a pass at `name`; SIGKILLs the process at the armed pass.
void crash_point(const char* name);
#define AB_CRASH_POINT(name) ::ab::crash_point(name)
#else
#define AB_CRASH_POINT(name) ((void)0)
#endif

}  // namespace ab
