#include "run_signaller.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "process_identity.h"

namespace ab {

namespace {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

}  // namespace

void RunSignaller::set_policies(const std::vector<PolicyConfig>& policies) {
  signal_of_policy_.clear();
  for (const PolicyConfig& p : policies)
    if (p.on_hard_signal > 0) signal_of_policy_[p.name] = p.on_hard_signal;
}

std::vector<RunSignaller::Target> RunSignaller::targets_of(const RunRef& run, uint64_t word) const {
  std::vector<Target> out;
  out.push_back({word_pid(word), run.slot->claimer_start_ticks.load(std::memory_order_acquire), "began the run"});
  // A hold's owner is a process using the run right now. Free slots have no
  // owner, and a releasing slot may carry the daemon's own pid.
  const HoldSlot* holds = ledger_.holds();
  for (uint32_t i = 0; i < ledger_.hold_capacity(); ++i) {
    const HoldSlot& h = holds[i];
    uint64_t w = h.word.load(std::memory_order_acquire);
    HoldState st = hold_state(w);
    if (st == HoldState::kFree || st == HoldState::kReleasing) continue;
    if (h.run_index.load(std::memory_order_relaxed) != run.index ||
        h.run_generation.load(std::memory_order_relaxed) != run.generation)
      continue;
    uint32_t pid = uint32_t(w);
    bool seen = false;
    for (const Target& t : out) seen |= t.pid == pid;
    if (!seen) out.push_back({pid, h.owner_start_ticks.load(std::memory_order_relaxed), "holds a reservation"});
  }
  return out;
}

// Signals through a pidfd opened BEFORE the start-time check: the pidfd
// names that exact process, so a pid reused after the check cannot receive
// the signal. Falls back to kill() where pidfds are missing (Linux < 5.3).
const char* RunSignaller::send(const Target& t, int sig) const {
  if (t.pid <= 1) return "not a process of the run";
  if (t.pid == uint32_t(getpid())) return "the daemon itself";
  if (t.start_ticks == 0) return "start time not recorded";
  int pidfd = int(syscall(SYS_pidfd_open, pid_t(t.pid), 0));
  if (pidfd < 0 && errno != ENOSYS) return "gone";
  const char* why = nullptr;
  if (process_start_ticks(t.pid) != t.start_ticks)
    why = "gone (its pid now names another process)";
  else if ((pidfd >= 0 ? int(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)) : kill(pid_t(t.pid), sig)) != 0)
    why = std::strerror(errno);
  if (pidfd >= 0) close(pidfd);
  return why;
}

void RunSignaller::deliver(const Event& e) {
  if (e.kind != EventKind::kHardLimit || e.run_id.empty()) return;
  auto it = signal_of_policy_.find(e.policy);
  if (it == signal_of_policy_.end()) return;
  const int sig = it->second;
  RunRef run;
  if (ledger_.find(e.run_id, &run) != Status::kOk) return;
  uint64_t word = run.slot->word.load(std::memory_order_acquire);
  // An ended run's processes are done with it (and a recycled slot is someone else's).
  if (word_state(word) != SlotState::kActive || word_generation(word) != run.generation) {
    spdlog::info("run '{}' reached its hard limit but has ended; no {} sent", e.run_id, signal_name(sig));
    return;
  }
  size_t sent = 0;
  for (const Target& t : targets_of(run, word)) {
    if (const char* why = send(t, sig); !why) {
      ++sent;
      signalled_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("run '{}' reached its hard limit (policy '{}'): sent {} to pid {} ({})", e.run_id, e.policy,
                   signal_name(sig), t.pid, t.role);
    } else {
      spdlog::info("run '{}': pid {} ({}) not signalled: {}", e.run_id, t.pid, t.role, why);
    }
  }
  if (!sent)
    spdlog::info("run '{}' reached its hard limit; no live process of it to send {}", e.run_id, signal_name(sig));
}

}  // namespace ab
