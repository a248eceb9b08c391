#include "instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "segment.h"

namespace ab {

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

bool InstanceLock::acquire(const std::string& ledger, std::string* message) {
  std::string path = "/dev/shm/" + data_segment_name(ledger) + ".lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    *message = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    *message = e == EWOULDBLOCK ? "another agentbudgetd owns ledger '" + ledger + "' (" + path + " is locked)"
                                : "cannot lock " + path + ": " + std::strerror(e);
    return false;
  }
  fd_ = fd;
  return true;
}

}  // namespace ab
