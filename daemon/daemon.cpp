#include "daemon.h"

#include <grp.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "clock.h"
#include "config_apply.h"
#include "control_server.h"
#include "price_table.h"
#include "systemd_notify.h"

namespace ab {

std::vector<std::string> check_startable(const DaemonConfig& cfg) {
  std::vector<std::string> problems;
  std::string path = cfg.price_table.empty() ? default_price_table_path() : cfg.price_table;
  PriceTableLoad prices;
  std::string err;
  if (!load_litellm_prices(path, &prices, &err)) problems.push_back("price_table: " + err);
  if (cfg.group_required && !getgrnam(cfg.group.c_str()))
    problems.push_back("group: '" + cfg.group + "' does not exist");
  return problems;
}

// metrics_ counts every delivered event; apply_notify() leaves it in place.
Daemon::Daemon(DaemonConfig cfg) : cfg_(std::move(cfg)) {
  sinks_.push_back(&metrics_);
  sinks_.push_back(&log_sink_);
}
Daemon::~Daemon() {
  control_.reset();  // its thread reads the daemon: stop it first
  close_notify();
}

bool Daemon::start(std::string* message) {
  if (!lock_.acquire(cfg_.ledger, message)) return false;
  std::string path = cfg_.price_table.empty() ? default_price_table_path() : cfg_.price_table;
  PriceTableLoad prices;
  std::string err;
  if (!load_litellm_prices(path, &prices, &err)) {
    *message = "price table: " + err;
    return false;
  }
  if (prices.models.size() > size_t(kMaxModels)) {
    spdlog::warn("price table {} has {} models; keeping the first {}", path, prices.models.size(), kMaxModels);
    prices.models.resize(kMaxModels);
  }
  model_count_ = prices.models.size();
  models_ = prices.models;
  // Bound before the ledger is made, so a port in use leaves nothing behind.
  if (!cfg_.metrics.listen.empty()) {
    metrics_server_ = std::make_unique<MetricsServer>();
    if (!metrics_server_->bind(cfg_.metrics.listen, message)) return false;
  }
  // A fresh ledger (no live segment, e.g. after a reboot) is filled from
  // the snapshot; an adopted live segment is newer than any snapshot.
  const std::string snapshot = snapshot_path(cfg_);
  OwnResult r = own_ledger(cfg_, prices.models, &ledger_, [&](Ledger& fresh, bool* restored, std::string* msg) {
    return restore_from_file(fresh, snapshot, discard_bad_snapshot_, restored, msg);
  });
  if (r.status != Status::kOk) {
    *message = r.message;
    return false;
  }
  outcome_ = r.outcome;
  snapshots_ = std::make_unique<SnapshotWriter>(snapshot);
  last_snapshot_ = std::chrono::steady_clock::now();
  config_stamp_ = stamp_of(cfg_.source);
  if (r.outcome == OwnOutcome::kAdopted) {
    // own_ledger kept each existing policy and pool at its index; follow
    // the same order here so later rewrites of the segment agree.
    std::string ignored;  // own_ledger already checked that the indexes can be kept
    keep_indexes(*static_cast<ConfigHeader*>(ledger_->config_segment().data()), &cfg_, &ignored);
  }
  scanner_ = std::make_unique<EventScanner>(*ledger_);
  reaper_ = std::make_unique<HoldReaper>(*ledger_, self_identity());
  recycler_ = std::make_unique<SlotRecycler>(*ledger_, cfg_.closed_run_grace_s);
  forecaster_ = std::make_unique<Forecaster>(*ledger_);
  // Enforcement does not depend on the history: a database that cannot be
  // opened is logged (by History) and reported, and the daemon runs on.
  history_ = std::make_unique<History>();
  if (history_->open(history_path(cfg_))) {
    history_sink_ = std::make_unique<HistorySink>(*history_);
    sinks_.push_back(history_sink_.get());
  }
  apply_notify();
  spdlog::info("ledger '{}' {} ({} run slots, {} policies, {} priced models from {}; config {})", cfg_.ledger,
               r.outcome == OwnOutcome::kAdopted    ? "adopted"
               : r.outcome == OwnOutcome::kRestored ? "restored"
                                                    : "created",
               ledger_->capacity(), cfg_.policies.size(), model_count_, path, cfg_.source);
  control_ = std::make_unique<ControlServer>(*this);
  if (!control_->start(message)) {
    control_.reset();
    return false;
  }
  sinks_.push_back(control_->sink());  // `watch` subscribers see every delivered event
  metrics_.note_start(unix_ns());
  if (metrics_server_) {
    metrics_server_->start([this] { return render_metrics(*this, unix_ns()); });
    spdlog::info("metrics at http://{}/metrics", cfg_.metrics.listen);
  }
  return true;
}

size_t Daemon::tick(bool force_scan, uint64_t now_unix_ns) {
  std::lock_guard config_lock(config_mu_);  // cfg_ and the config segment stay still for the pass
  auto tick_start = std::chrono::steady_clock::now();
  DataHeader* h = ledger_->header();
  h->heartbeat_unix_ns.store(unix_ns(), std::memory_order_relaxed);
  ++ticks_;
  uint64_t now = now_unix_ns ? now_unix_ns : unix_ns();
  auto* config = static_cast<ConfigHeader*>(ledger_->config_segment().data());
  // Only this daemon writes the config, and not now: an odd seqlock word is
  // a daemon killed mid-write (or corruption). Rewrite it whole.
  if (config->seq.load(std::memory_order_acquire) & 1) {
    config->seq.fetch_add(1, std::memory_order_acq_rel);
    write_config_segment(config, cfg_, models_);
    spdlog::warn("config segment was left mid-write; rewrote it");
  }
  if (pool_periods_need_refresh(config, int64_t(now / 1'000'000'000u))) {
    write_config_segment(config, cfg_, models_);
    spdlog::info("published the next calendar period starts of the pools");
  }
  ReapStats r = reaper_->pass(now);
  reaped_.released_dead += r.released_dead;
  reaped_.released_lease += r.released_lease;
  reaped_.repaired += r.repaired;
  reaped_.pending_repairs = r.pending_repairs;
  if (r.released_dead || r.released_lease || r.repaired)
    spdlog::info("holds: released {} of dead processes, {} past their lease; repaired {} interrupted updates",
                 r.released_dead, r.released_lease, r.repaired);
  size_t delivered = scanner_->scan(sinks_, force_scan);
  // Forecasts and recycling scan the whole table: once a second is plenty.
  // Recycling comes after the event scan, so a closed run is announced
  // before it goes.
  const bool full_pass = force_scan || ticks_ % std::max<uint64_t>(1, 1000 / cfg_.tick_ms) == 0;
  if (full_pass) delivered += forecaster_->pass(sinks_, {cfg_.forecast_min_age_s, cfg_.forecast_horizon_s}, now);
  history_->commit();  // this tick's events in one transaction
  if (full_pass) {
    RecycleStats rs = recycler_->pass(now);
    recycled_.recycled += rs.recycled;
    recycled_.emptied += rs.emptied;
  }
  maybe_snapshot();  // last: events and recycling of this pass are in it
  auto tick_ns = std::chrono::nanoseconds(std::chrono::steady_clock::now() - tick_start).count();
  metrics_.note_tick(ticks_, uint64_t(tick_ns), reaped_, recycled_);
  return delivered;
}

void Daemon::run() {
  // A full scan every second catches anything whose hint we missed; between
  // those, scans run only when a client bumped the hint.
  const uint64_t full_every = std::max<uint64_t>(1, 1000 / cfg_.tick_ms);
  // systemd's watchdog (WatchdogSec=): pinged from this loop, so a stuck
  // pass gets the daemon restarted. 0 when not enabled.
  const uint64_t watchdog_ns = watchdog_ping_interval_ns();
  auto last_ping = std::chrono::steady_clock::now();
  if (watchdog_ns) notify_watchdog();
  while (!stopping_.load(std::memory_order_acquire)) {
    // SIGHUP: tell systemd a reload runs, and when it is over.
    bool asked = reload_requested_.load(std::memory_order_acquire);
    if (asked) notify_reloading();
    if (ticks_ % full_every == 0 || asked) reload_if_changed();
    if (asked) {
      std::string err = last_reload_error();
      notify_ready(err.empty() ? "running; configuration " + cfg_.source
                               : "reload refused, the previous configuration runs: " + err);
    }
    tick(ticks_ % full_every == 0);
    auto since_ping = std::chrono::nanoseconds(std::chrono::steady_clock::now() - last_ping).count();
    if (watchdog_ns && uint64_t(since_ping) >= watchdog_ns) {
      notify_watchdog();
      last_ping = std::chrono::steady_clock::now();
    }
    // Sleep in short steps so stop() is honoured promptly.
    for (uint32_t slept = 0; slept < cfg_.tick_ms && !stopping_.load(std::memory_order_acquire); slept += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(10, cfg_.tick_ms - slept)));
  }
  notify_stopping();
  tick(true);  // deliver what is due before leaving
  std::string snapshot_error;
  if (!snapshot_now(&snapshot_error)) spdlog::error("snapshot at stop failed: {}", snapshot_error);
  if (control_) control_->stop();  // the socket goes with the loop
  spdlog::info("agentbudgetd stopping; ledger '{}' stays for clients and the next daemon", cfg_.ledger);
}

void Daemon::stop() { stopping_.store(true, std::memory_order_release); }

void Daemon::maybe_snapshot() {
  auto now = std::chrono::steady_clock::now();
  // A write still running (a slow disk) is not queued behind: the next
  // pass after it finishes takes a fresher copy.
  if (now - last_snapshot_ < std::chrono::milliseconds(cfg_.snapshot_interval_ms) || snapshots_->busy()) return;
  last_snapshot_ = now;
  // Only the copy happens here; encoding and fsync run in the writer's thread.
  Snapshot s = capture_snapshot(*ledger_);
  snapshots_->submit(
      std::move(s),
      uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - now).count()));
}

bool Daemon::snapshot_now(std::string* error) {
  auto t0 = std::chrono::steady_clock::now();
  Snapshot s;
  {
    std::lock_guard config_lock(config_mu_);  // policy and pool names stay still
    s = capture_snapshot(*ledger_);
  }
  uint64_t capture_ns =
      uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  return snapshots_->write_now(std::move(s), capture_ns, error);
}

void Daemon::close_notify() {
  std::unique_lock lock(notify_mu_);
  std::erase_if(sinks_, [&](EventSink* s) {
    if (s == &log_sink_ || s == signaller_.get()) return true;
    for (auto& w : webhooks_)
      if (s == w.get()) return true;
    for (auto& x : exec_sinks_)
      if (s == x.get()) return true;
    return false;
  });
  auto old_webhooks = std::move(webhooks_);
  auto old_exec = std::move(exec_sinks_);
  webhooks_.clear();
  exec_sinks_.clear();
  lock.unlock();
  // The queues drain side by side within one shared grace.
  auto deadline = std::chrono::steady_clock::now() + kSinkShutdownGrace;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
  };
  for (auto& w : old_webhooks) w->shutdown(left());
  for (auto& x : old_exec) x->shutdown(left());
}

void Daemon::apply_signals() {
  std::lock_guard lock(notify_mu_);
  std::erase(sinks_, signaller_.get());
  signaller_->set_policies(cfg_.policies);
  if (signaller_->active()) sinks_.push_back(signaller_.get());
}

void Daemon::apply_notify() {
  close_notify();
  std::lock_guard lock(notify_mu_);
  if (cfg_.notify.log) sinks_.push_back(&log_sink_);
  // Signals are sent in the loop itself (a few syscalls); webhooks and hooks queue.
  if (!signaller_) signaller_ = std::make_unique<RunSignaller>(*ledger_);
  signaller_->set_policies(cfg_.policies);
  if (signaller_->active()) sinks_.push_back(signaller_.get());
  for (const WebhookConfig& w : cfg_.notify.webhooks) {
    webhooks_.push_back(std::make_unique<WebhookSink>(w));
    sinks_.push_back(webhooks_.back().get());
  }
  for (const ExecSinkConfig& x : cfg_.notify.exec) {
    exec_sinks_.push_back(std::make_unique<ExecSink>(x));
    sinks_.push_back(exec_sinks_.back().get());
  }
}

std::vector<SinkStats> Daemon::webhook_stats() const {
  std::lock_guard lock(notify_mu_);
  std::vector<SinkStats> out;
  for (auto& w : webhooks_) out.push_back(w->stats());
  return out;
}

std::vector<SinkStats> Daemon::exec_stats() const {
  std::lock_guard lock(notify_mu_);
  std::vector<SinkStats> out;
  for (auto& x : exec_sinks_) out.push_back(x->stats());
  return out;
}

uint64_t Daemon::signals_sent() const {
  std::lock_guard lock(notify_mu_);
  return signaller_ ? signaller_->signalled() : 0;
}

}  // namespace ab
