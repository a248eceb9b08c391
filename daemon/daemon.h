// agentbudgetd as a library: tests run it in-process, main.cpp wraps it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "event.h"
#include "event_scanner.h"
#include "hold_reaper.h"
#include "instance_lock.h"
#include "slot_recycler.h"
#include "ledger_owner.h"

namespace ab {

// What start() would refuse beyond the file's own syntax: an unreadable
// price table, a missing group. One line per problem; empty if none.
std::vector<std::string> check_startable(const DaemonConfig& cfg);

class Daemon {
 public:
  explicit Daemon(DaemonConfig cfg);
  ~Daemon();

  // Loads prices, creates or adopts the ledger. On failure returns false with
  // a message; nothing is left half-made.
  bool start(std::string* message);
  // Runs the loop (heartbeat, event delivery) until stop() is called.
  void run();
  // Thread- and async-signal-safe request to leave run().
  void stop();
  // One pass of the periodic work (for tests and the loop): heartbeat,
  // hold reclaim and repair, event delivery. Returns events delivered.
  // `now_unix_ns` (0: the clock) lets tests move time for leases.
  size_t tick(bool force_scan, uint64_t now_unix_ns = 0);
  const ReapStats& reaped() const { return reaped_; }
  const RecycleStats& recycled() const { return recycled_; }

  void add_sink(EventSink* sink) { sinks_.push_back(sink); }
  Ledger& ledger() { return *ledger_; }
  const DaemonConfig& config() const { return cfg_; }
  OwnOutcome outcome() const { return outcome_; }
  size_t model_count() const { return model_count_; }

 private:
  DaemonConfig cfg_;
  InstanceLock lock_;  // declared first: released last
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<EventScanner> scanner_;
  std::unique_ptr<HoldReaper> reaper_;
  std::unique_ptr<SlotRecycler> recycler_;
  std::vector<EventSink*> sinks_;
  LogSink log_sink_;
  OwnOutcome outcome_ = OwnOutcome::kCreated;
  size_t model_count_ = 0;
  std::vector<ModelPrice> models_;  // as loaded, for rewriting the config segment
  std::atomic<bool> stopping_{false};
  uint64_t ticks_ = 0;
  ReapStats reaped_;  // totals since start
  RecycleStats recycled_;
};

}  // namespace ab
