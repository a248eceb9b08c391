// The optional action of a policy on its hard limit (`on_hard_signal`):
// when the daemon delivers a run's hard_limit event, send that signal to the
// processes attached to the run, so an agent that ignores denials is stopped.
// Attached means: the process that began the run (its claimer, RunSlot word)
// and the owners of the run's outstanding holds. Each pid is checked against
// its recorded start time first, so a pid the kernel reused for another
// process is never signalled; pid 0 and 1 and the daemon itself never are.
// Runs synchronously in the daemon's loop: a few /proc reads and kill()s.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config.h"
#include "event.h"
#include "ledger.h"

namespace ab {

class RunSignaller : public EventSink {
 public:
  explicit RunSignaller(Ledger& ledger) : ledger_(ledger) {}
  // Which policies ask for which signal (at start and after a reload).
  void set_policies(const std::vector<PolicyConfig>& policies);
  void deliver(const Event& e) override;
  // True if any policy asks for a signal (else the daemon need not add it).
  bool active() const { return !signal_of_policy_.empty(); }
  // Processes signalled since start.
  uint64_t signalled() const { return signalled_.load(std::memory_order_relaxed); }

 private:
  struct Target {
    uint32_t pid;
    uint64_t start_ticks;
    const char* role;
  };
  std::vector<Target> targets_of(const RunRef& run, uint64_t word) const;
  // nullptr when signalled, else why not.
  const char* send(const Target& t, int sig) const;

  Ledger& ledger_;
  std::map<std::string, int> signal_of_policy_;  // only policies with a signal
  std::atomic<uint64_t> signalled_{0};
};

}  // namespace ab
