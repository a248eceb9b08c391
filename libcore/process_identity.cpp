#include "process_identity.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ab {

uint64_t process_start_ticks(uint32_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name (field 2) may contain spaces and ')'; fields resume
  // after the last ')'. Field 3 is the state; start time is field 22.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  p += 1;
  int field = 2;
  while (*p && field < 22) {
    if (*p == ' ') ++field;
    ++p;
  }
  unsigned long long ticks = 0;
  if (std::sscanf(p, "%llu", &ticks) != 1) return 0;
  return ticks;
}

namespace {
std::atomic<uint64_t> g_fork_generation{1};
void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }
const bool g_atfork_registered = [] { return pthread_atfork(nullptr, nullptr, on_fork_child) == 0; }();
}  // namespace

uint64_t fork_generation() {
  (void)g_atfork_registered;
  return g_fork_generation.load(std::memory_order_relaxed);
}

ProcessIdentity self_identity() {
  ProcessIdentity id;
  id.pid = uint32_t(getpid());
  id.start_ticks = process_start_ticks(id.pid);
  return id;
}

Liveness process_liveness(uint32_t pid, uint64_t start_ticks) {
  if (pid == 0) return Liveness::kDead;
  if (kill(pid_t(pid), 0) != 0 && errno == ESRCH) return Liveness::kDead;
  uint64_t now = process_start_ticks(pid);
  if (now == 0) {
    // Gone between the two checks, or /proc not readable: ask kill again.
    if (kill(pid_t(pid), 0) != 0 && errno == ESRCH) return Liveness::kDead;
    return Liveness::kUnknown;
  }
  if (start_ticks != 0 && now != start_ticks) return Liveness::kDead;
  // A zombie still has its pid but will never run again.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  if (FILE* f = std::fopen(path, "re")) {
    char buf[512];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) return Liveness::kDead;
  }
  return Liveness::kAlive;
}

}  // namespace ab
