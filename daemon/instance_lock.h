// One daemon per ledger: an flock(2) on /dev/shm/NAME.v<major>.lock, held
// for the daemon's life and released by the kernel when it exits or is
// killed, so a restart after SIGKILL never waits and two daemons never both
// own a ledger. --remove-ledger takes the same lock.
#pragma once
#include <string>

namespace ab {

class InstanceLock {
 public:
  InstanceLock() = default;
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  InstanceLock(InstanceLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

  // False with a message naming the holder's state if another process holds it.
  bool acquire(const std::string& ledger, std::string* message);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace ab
