// A run-id bucket's creation lease (see kCreateLeases in layout.h): the word
// holds the creator's pid, 0 when free. Waiting is bounded; the lease of a
// process that died holding it is taken over. Not on the hot path: only
// the creation of a new run takes it.
#pragma once
#include <sched.h>

#include <atomic>
#include <cstdint>

#include "process_identity.h"

namespace ab {

class CreateLease {
 public:
  CreateLease(std::atomic<uint64_t>& word, uint32_t pid) : word_(word) {
    for (int spin = 0; spin < 200000; ++spin) {
      uint64_t cur = word_.load(std::memory_order_acquire);
      if (cur == 0 && word_.compare_exchange_weak(cur, pid, std::memory_order_acq_rel)) {
        held_ = true;
        return;
      }
      if (cur != 0 && spin % 1000 == 999 && process_liveness(uint32_t(cur), 0) == Liveness::kDead &&
          word_.compare_exchange_strong(cur, pid, std::memory_order_acq_rel)) {
        held_ = true;  // its holder died mid-creation
        return;
      }
      if (spin > 64) sched_yield();
    }
  }
  ~CreateLease() {
    if (held_) word_.store(0, std::memory_order_release);
  }
  CreateLease(const CreateLease&) = delete;
  CreateLease& operator=(const CreateLease&) = delete;
  bool held() const { return held_; }

 private:
  std::atomic<uint64_t>& word_;
  bool held_ = false;
};

}  // namespace ab
