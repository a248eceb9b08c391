// Test fixtures: a private ledger owned by an in-process daemon, and helpers
// to run code in forked child processes.
#pragma once
#include <sys/mman.h>
#include <sys/types.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agentbudget.h"
#include "config.h"
#include "daemon.h"

namespace abtest {

// A unique ledger name for this test process ("abtest-<pid>-<n>").
std::string unique_ledger_name();

// Removes a test's private ledger: its segments and its lock file.
void remove_test_ledger(const std::string& name);

// An in-process daemon on a fresh private ledger, removed at destruction.
class TestLedger {
 public:
  explicit TestLedger(ab::DaemonConfig cfg = ab::builtin_default_config());
  ~TestLedger();
  const std::string& name() const { return name_; }
  // The daemon's state folder (snapshot, history); a temporary one by default.
  const std::string& state_dir() const { return daemon_->config().state_dir; }
  ab::Daemon& daemon() { return *daemon_; }
  // A new C-ABI handle to the ledger; the caller closes it.
  ab_ledger* open() const;

 private:
  std::string name_;
  std::string state_dir_;  // made here (and removed) unless cfg named one
  std::unique_ptr<ab::Daemon> daemon_;
};

// Adds to `c` a pool named "team" with hard limit `hard` (USD text) and
// the given period, and a policy named "pooled" whose runs, begun with the
// label team=`team`, belong to it. Returns the pool, for further settings.
ab::PoolConfig& add_team_pool(ab::DaemonConfig* c, const char* hard, const char* team, const char* period = "none",
                              uint64_t rolling_s = 0);

// A new empty folder under $TMPDIR; the caller removes it.
std::string make_temp_dir();

// Forks `n` children running fn(i); each child's return value is its exit
// code. Returns the pids (not yet waited for).
std::vector<pid_t> fork_children(int n, const std::function<int(int)>& fn);
// Waits until `started` reaches `n` (each child adds 1 once it is at work)
// or a child has exited, bounded by 10 s. Kills aimed "mid-work" land there
// however slowly a loaded machine forks.
void wait_until_started(const std::atomic<int>& started, int n, const std::vector<pid_t>& pids);
// Waits for all pids; returns how many exited with code 0.
int wait_all(const std::vector<pid_t>& pids);

// Nanos from a USD decimal string; aborts the test process on bad text.
int64_t usd(const char* text);

// n value-initialised T in memory shared with forked children (barriers,
// reports). Never freed: test processes are short.
template <class T>
T* shared_array(size_t n) {
  void* p = mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  return new (p) T[n]();
}

// Runs a shell command; returns its exit code and its stdout+stderr.
int run_command(const std::string& cmd, std::string* out);

}  // namespace abtest
