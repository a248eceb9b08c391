// Who a process is, in a way that survives pid reuse: pid plus the kernel's
// start time of that pid (field 22 of /proc/<pid>/stat, clock ticks since boot).
#pragma once
#include <sys/types.h>

#include <cstdint>

namespace ab {

struct ProcessIdentity {
  uint32_t pid = 0;
  uint64_t start_ticks = 0;
};

// Identity of the calling process. Reads /proc once per call; callers cache it
// (and refresh it after fork).
ProcessIdentity self_identity();

// Bumped in the child by a pthread_atfork handler: lets hot paths cache
// their identity and notice a fork without calling getpid() (a syscall).
uint64_t fork_generation();

// Start ticks of `pid`, or 0 if the process does not exist.
uint64_t process_start_ticks(uint32_t pid);

enum class Liveness { kAlive, kDead, kUnknown };

// kDead when no process has `pid`, or the process with that pid started at a
// different time than `start_ticks` (the pid was reused). start_ticks == 0
// means "not recorded yet": only a missing pid counts as dead then.
Liveness process_liveness(uint32_t pid, uint64_t start_ticks);

}  // namespace ab
