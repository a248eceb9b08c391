// Reading the config segment consistently while the daemon may rewrite it.
//
// Writer (daemon only): seq := seq+1 (odd, release), write, seq := seq+1
// (even, release). Reader: load seq (acquire); if odd, retry; run `fn`
// (which copies what it needs); fence; reload seq; retry if changed. Retries
// are bounded: a daemon killed mid-write leaves seq odd, and readers then get
// kBusy until it restarts and rewrites the segment.
#pragma once
#include <atomic>

#include "layout.h"
#include "status.h"

namespace ab {

inline constexpr int kConfigReadRetries = 1000;

template <class Fn>
Status read_config(const ConfigHeader& c, Fn&& fn) {
  for (int i = 0; i < kConfigReadRetries; ++i) {
    uint64_t s1 = c.seq.load(std::memory_order_acquire);
    if (s1 & 1) continue;
    fn();
    std::atomic_thread_fence(std::memory_order_acquire);
    if (c.seq.load(std::memory_order_relaxed) == s1) return Status::kOk;
  }
  return Status::kBusy;
}

// Writer side: brackets a rewrite of the config segment.
inline void config_write_begin(ConfigHeader& c) {
  c.seq.fetch_add(1, std::memory_order_acq_rel);
  std::atomic_thread_fence(std::memory_order_release);
}
inline void config_write_end(ConfigHeader& c) { c.seq.fetch_add(1, std::memory_order_release); }

}  // namespace ab
