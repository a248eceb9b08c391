// Wall-clock time for run timestamps. CLOCK_REALTIME_COARSE is served by the
// vDSO: no syscall, a few nanoseconds, millisecond resolution, which is all a
// charge timestamp needs.
#pragma once
#include <time.h>

#include <cstdint>

namespace ab {

inline uint64_t coarse_unix_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

inline uint64_t unix_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

}  // namespace ab
