#include "crash_point.h"

#ifdef AB_CRASH_POINTS
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ab {

namespace {

// The armed point of this process. Written under g_mu by the first pass of
// each process (pid check: a forked child re-reads its environment), then
// published by the release store of g_read_by; passes acquire g_read_by
// before reading the name, and count down g_left.
std::mutex g_mu;
std::atomic<pid_t> g_read_by{0};
char g_name[64];
std::atomic<long> g_left{0};

void read_environment() {
  std::lock_guard lock(g_mu);
  const pid_t me = getpid();
  if (g_read_by.load(std::memory_order_relaxed) == me) return;
  g_name[0] = 0;
  g_left.store(0, std::memory_order_relaxed);
  const char* v = std::getenv("AB_CRASH_AT");
  const char* colon = v ? std::strchr(v, ':') : nullptr;
  size_t len = v ? (colon ? size_t(colon - v) : std::strlen(v)) : 0;
  if (len > 0 && len < sizeof g_name) {
    std::memcpy(g_name, v, len);
    g_name[len] = 0;
    long nth = colon ? std::strtol(colon + 1, nullptr, 10) : 1;
    g_left.store(nth > 0 ? nth : 1, std::memory_order_relaxed);
  }
  g_read_by.store(me, std::memory_order_release);
}

}  // namespace

void crash_point(const char* name) {
  // Test builds only: a getpid() per pass is affordable there.
  if (g_read_by.load(std::memory_order_acquire) != getpid()) read_environment();
  if (g_name[0] == 0 || std::strcmp(name, g_name) != 0) return;
  if (g_left.fetch_sub(1, std::memory_order_acq_rel) == 1) raise(SIGKILL);
}

}  // namespace ab
#endif
