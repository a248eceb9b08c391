// Process identity survives pid reuse; dead and zombie processes are dead.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "process_identity.h"

TEST(ProcessIdentity, StartTicksMatchProcStatField22) {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(all.substr(all.rfind(')') + 2));
  std::string f;
  for (int i = 3; i <= 22; ++i) fields >> f;  // fields 3..22
  EXPECT_EQ(ab::self_identity().start_ticks, std::stoull(f));
  EXPECT_EQ(ab::self_identity().pid, uint32_t(getpid()));
}

TEST(ProcessIdentity, LivenessOfLiveZombieReapedAndReusedPids) {
  ab::ProcessIdentity me = ab::self_identity();
  EXPECT_EQ(ab::process_liveness(me.pid, me.start_ticks), ab::Liveness::kAlive);
  EXPECT_EQ(ab::process_liveness(me.pid, 0), ab::Liveness::kAlive);
  // Same pid, other start time: the pid was reused by another process.
  EXPECT_EQ(ab::process_liveness(me.pid, me.start_ticks + 1), ab::Liveness::kDead);
  pid_t child = fork();
  if (child == 0) _exit(0);
  // Wait until it is a zombie (exited, not reaped).
  for (int i = 0; i < 1000; ++i) {
    if (ab::process_liveness(uint32_t(child), 0) == ab::Liveness::kDead) break;
    usleep(1000);
  }
  EXPECT_EQ(ab::process_liveness(uint32_t(child), 0), ab::Liveness::kDead);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(ab::process_liveness(uint32_t(child), 0), ab::Liveness::kDead);
  EXPECT_EQ(ab::process_liveness(0, 0), ab::Liveness::kDead);
}
