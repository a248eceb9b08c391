// Prometheus metrics of agentbudgetd (text exposition format 0.0.4).
//
// Everything is computed at scrape time: the run table is read in one pass
// (relaxed loads of slot words and `spent`, never a write), pools and
// policies come from the ledger's segments (names under the config seqlock),
// and the daemon's own counters from a DaemonMetrics the daemon thread
// updates. The HTTP server runs in its own thread; render_metrics() needs no
// server, so tests call it directly.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "event.h"
#include "hold_reaper.h"
#include "ledger.h"
#include "slot_recycler.h"

namespace ab {

class Daemon;

// The daemon's counters for metrics. Written by the daemon thread (as an
// EventSink and after every tick), read by scrapes on the HTTP thread:
// hence relaxed atomics. Each value is exact on its own; one scrape may mix
// values of neighbouring ticks.
class DaemonMetrics : public EventSink {
 public:
  // Reason values 0..10 (status.h) plus one slot for names it does not know.
  static constexpr int kReasonSlots = 12;

  // Counts each delivered event by kind, and call_denied events by reason.
  void deliver(const Event& e) override;
  void note_start(uint64_t unix_ns) { started_unix_ns_.store(unix_ns, std::memory_order_relaxed); }
  // After each tick: its duration and the daemon's running totals.
  void note_tick(uint64_t ticks, uint64_t duration_ns, const ReapStats& reaped, const RecycleStats& recycled);

  uint64_t events(EventKind k) const { return events_[int(k)].load(std::memory_order_relaxed); }
  uint64_t denied_runs(int reason_slot) const { return denied_[reason_slot].load(std::memory_order_relaxed); }

 private:
  friend std::string render_metrics(Daemon& d, uint64_t now_unix_ns);

  std::atomic<uint64_t> events_[kEventKindCount] = {};
  std::atomic<uint64_t> denied_[kReasonSlots] = {};
  std::atomic<uint64_t> started_unix_ns_{0};
  std::atomic<uint64_t> ticks_{0};
  std::atomic<uint64_t> last_tick_ns_{0};
  std::atomic<uint64_t> released_dead_{0}, released_lease_{0}, repaired_{0}, pending_repairs_{0};
  std::atomic<uint64_t> recycled_{0}, emptied_{0};
};

// The whole exposition, from the daemon's ledger as it is now and its
// counters. Safe to call from any thread while the daemon runs.
std::string render_metrics(Daemon& d, uint64_t now_unix_ns);

// Serves GET /metrics (404 for any other path) on a loopback address, in a
// thread of its own. bind() runs before the daemon creates its ledger, so a
// port in use fails start() with nothing made.
class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();  // stops and joins the thread
  // `listen` is HOST:PORT as config validation accepts it ("[::1]:9464" too);
  // port 0 binds any free port (tests). False with a message on failure.
  bool bind(const std::string& listen, std::string* message);
  // Starts answering scrapes with `render`; returns once the server accepts.
  void start(std::function<std::string()> render);
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace ab
