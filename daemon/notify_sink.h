// What every notification sink shares: filtering by event kind, and a
// bounded queue drained by one worker thread, so a slow sink (a hook, the
// network) never blocks the daemon's loop. Events reach a sink's worker in
// the order the daemon delivered them.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "config.h"
#include "event.h"

namespace ab {

// The kinds named by a sink's `events = [...]`; an empty list accepts all.
// Names were validated with the configuration; an unknown one matches nothing.
class KindFilter {
 public:
  explicit KindFilter(const EventFilter& names);
  bool accepts(EventKind k) const { return mask_ & (1u << unsigned(k)); }

 private:
  uint32_t mask_ = 0;
};

// Counters of one sink since start (for logs and metrics).
struct SinkStats {
  std::string target;      // the webhook's URL or the hook's command
  uint64_t sent = 0;       // events handed over (2xx, or a hook that exited 0)
  uint64_t retried = 0;    // extra attempts made (webhooks)
  uint64_t failed = 0;     // events given up on (after any retries)
  uint64_t dropped = 0;    // never attempted: queue full, or left at shutdown
  uint64_t timed_out = 0;  // hooks killed at their timeout (also counted failed)
};

inline constexpr size_t kSinkQueueCapacity = 1024;
inline constexpr std::chrono::milliseconds kSinkShutdownGrace{2000};

class QueuedSink : public EventSink {
 public:
  // `kind` and `target` name the sink in logs ("webhook", "http://...").
  QueuedSink(const std::string& kind, std::string target, const EventFilter& filter, size_t capacity);
  ~QueuedSink() override;
  QueuedSink(const QueuedSink&) = delete;
  QueuedSink& operator=(const QueuedSink&) = delete;

  // Filters and queues; never waits for the worker. A full queue drops the
  // event (counted, and logged once per burst of drops).
  void deliver(const Event& e) final;
  SinkStats stats() const;
  const std::string& name() const { return name_; }

  // Stops accepting events, lets the worker drain the queue for up to
  // `grace`, then makes it give up (the rest is dropped) and joins it.
  // Idempotent. Derived classes call it in their destructor, before their
  // own members go away.
  void shutdown(std::chrono::milliseconds grace = kSinkShutdownGrace);

 protected:
  // Derived constructors call this last, once handle() may run.
  void start_worker();
  // Runs on the worker thread, one event at a time, in order.
  virtual void handle(const Event& e) = 0;
  // True once shutdown's grace ran out: handle() should stop retrying.
  bool aborting() const { return abort_.load(std::memory_order_acquire); }
  // Sleeps for `d`; false (early) if the sink is aborting.
  bool sleep_unless_aborting(std::chrono::milliseconds d);

  std::atomic<uint64_t> sent_{0}, retried_{0}, failed_{0}, timed_out_{0};

 private:
  void loop();

  const std::string target_;
  const std::string name_;
  const KindFilter filter_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work queued, closing or aborting
  std::condition_variable exit_cv_;  // the worker left
  std::deque<Event> queue_;
  bool closing_ = false;
  bool exited_ = false;
  bool in_burst_ = false;  // dropping since the last accepted event
  uint64_t burst_dropped_ = 0;
  std::atomic<bool> abort_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread worker_;
};

}  // namespace ab
