// agentbudgetd as a library: tests run it in-process, main.cpp wraps it.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "event.h"
#include "event_scanner.h"
#include "exec_sink.h"
#include "file_stamp.h"
#include "forecaster.h"
#include "history.h"
#include "hold_reaper.h"
#include "instance_lock.h"
#include "ledger_owner.h"
#include "metrics.h"
#include "run_signaller.h"
#include "slot_recycler.h"
#include "snapshot.h"
#include "webhook_sink.h"

namespace ab {

class ControlServer;

// What start() would refuse beyond the file's own syntax: an unreadable
// price table, a missing group. One line per problem; empty if none.
std::vector<std::string> check_startable(const DaemonConfig& cfg);

class Daemon {
 public:
  friend class ControlServer;  // `set` rewrites cfg_ and the config segment, under config_mu_
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
  // Spend rates and projections as of the last full pass; read it with
  // config_mutex() held (the loop updates it under that mutex).
  const Forecaster& forecaster() const { return *forecaster_; }
  const RecycleStats& recycled() const { return recycled_; }
  // Counters for metrics (an event sink too), and the port the metrics
  // server listens on (0: none; [metrics] listen with port 0 picks one).
  const DaemonMetrics& metrics() const { return metrics_; }
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  // Set before start(): a corrupt snapshot is renamed FILE.corrupt-<time>
  // and the daemon starts empty, instead of refusing to start.
  void set_discard_bad_snapshot(bool on) { discard_bad_snapshot_ = on; }
  // Writes a snapshot now, in the caller's thread (run() does at stop).
  // Call it from the loop's thread, or while the loop is not running.
  bool snapshot_now(std::string* error);
  // Snapshot counters (written, durations, last error) for metrics. Thread-safe.
  SnapshotStats snapshot_stats() const { return snapshots_ ? snapshots_->stats() : SnapshotStats{}; }

  // Re-reads the configuration file and applies it atomically: policies,
  // pools, prices and notification settings. On any error the running
  // configuration stays, *error says why, and last_reload_error() keeps it.
  // Thread-safe (serialized with every other writer of the config segment).
  bool reload(std::string* error);
  // Async-signal-safe: asks the loop to reload at its next pass (SIGHUP).
  void request_reload() { reload_requested_.store(true, std::memory_order_release); }
  std::string last_reload_error() const;
  uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t reload_failures() const { return reload_failures_.load(std::memory_order_relaxed); }
  // Held by every writer of the config segment and of cfg_ (the loop's
  // period refresh, reload, the control socket's `set`).
  std::mutex& config_mutex() { return config_mu_; }

  void add_sink(EventSink* sink) { sinks_.push_back(sink); }
  Ledger& ledger() { return *ledger_; }
  const DaemonConfig& config() const { return cfg_; }
  OwnOutcome outcome() const { return outcome_; }
  size_t model_count() const { return model_count_; }
  // The history database; never null after start(). If it could not be
  // opened, ok() is false and error() says why (enforcement goes on).
  History* history() { return history_.get(); }
  // Notification sinks' counters, in configuration order (for metrics),
  // and processes signalled by policies' on_hard_signal. Thread-safe.
  std::vector<SinkStats> webhook_stats() const;
  std::vector<SinkStats> exec_stats() const;
  uint64_t signals_sent() const;

 private:
  DaemonConfig cfg_;
  InstanceLock lock_;  // declared first: released last
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<EventScanner> scanner_;
  std::unique_ptr<HoldReaper> reaper_;
  std::unique_ptr<SlotRecycler> recycler_;
  std::unique_ptr<Forecaster> forecaster_;
  std::unique_ptr<History> history_;
  std::unique_ptr<HistorySink> history_sink_;
  std::vector<EventSink*> sinks_;
  LogSink log_sink_;
  // (Re)builds the log, webhook, exec and signal sinks from cfg_ (at start;
  // after a reload, with config_mu_ held). Other sinks stay.
  void apply_notify();
  // After a reload that left [notify] as it was: only the policies'
  // on_hard_signal may have changed (webhook queues are kept).
  void apply_signals();
  // Removes those sinks; their queues get a short shared grace to drain.
  void close_notify();
  mutable std::mutex notify_mu_;  // guards the three below against stats readers
  std::unique_ptr<RunSignaller> signaller_;
  std::vector<std::unique_ptr<WebhookSink>> webhooks_;
  std::vector<std::unique_ptr<ExecSink>> exec_sinks_;
  OwnOutcome outcome_ = OwnOutcome::kCreated;
  size_t model_count_ = 0;
  std::vector<ModelPrice> models_;  // as loaded, for rewriting the config segment
  std::atomic<bool> stopping_{false};
  mutable std::mutex config_mu_;
  std::atomic<bool> reload_requested_{false};
  std::string last_reload_error_;  // guarded by config_mu_
  std::atomic<uint64_t> reloads_{0}, reload_failures_{0};
  FileStamp config_stamp_;                 // the file as last loaded, to notice edits
  void reload_if_changed();                // loop: on request_reload() or a changed file
  bool reload_locked(std::string* error);  // config_mu_ held
  uint64_t ticks_ = 0;
  ReapStats reaped_;  // totals since start
  RecycleStats recycled_;
  bool discard_bad_snapshot_ = false;
  std::unique_ptr<SnapshotWriter> snapshots_;
  std::chrono::steady_clock::time_point last_snapshot_{};
  void maybe_snapshot();  // tick: one every snapshot_interval_ms, written in the background

  DaemonMetrics metrics_;
  // Last member, so destroyed first: no scrape outlives what it reads.
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<ControlServer> control_;  // the control socket; reset first in ~Daemon
};

}  // namespace ab
