#include "daemon.h"

#include <grp.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "clock.h"
#include "price_table.h"

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

Daemon::Daemon(DaemonConfig cfg) : cfg_(std::move(cfg)) { sinks_.push_back(&log_sink_); }
Daemon::~Daemon() = default;

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
  OwnResult r = own_ledger(cfg_, prices.models, &ledger_);
  if (r.status != Status::kOk) {
    *message = r.message;
    return false;
  }
  outcome_ = r.outcome;
  scanner_ = std::make_unique<EventScanner>(*ledger_);
  reaper_ = std::make_unique<HoldReaper>(*ledger_, self_identity());
  recycler_ = std::make_unique<SlotRecycler>(*ledger_, cfg_.closed_run_grace_s);
  spdlog::info("ledger '{}' {} ({} run slots, {} policies, {} priced models from {}; config {})", cfg_.ledger,
               r.outcome == OwnOutcome::kCreated ? "created" : "adopted", ledger_->capacity(),
               cfg_.policies.size(), model_count_, path, cfg_.source);
  return true;
}

size_t Daemon::tick(bool force_scan, uint64_t now_unix_ns) {
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
  // Recycling scans the whole table: once a second is plenty. After the
  // event scan, so a closed run is announced before it goes.
  if (force_scan || ticks_ % std::max<uint64_t>(1, 1000 / cfg_.tick_ms) == 0) {
    RecycleStats rs = recycler_->pass(now);
    recycled_.recycled += rs.recycled;
    recycled_.emptied += rs.emptied;
  }
  return delivered;
}

void Daemon::run() {
  // A full scan every second catches anything whose hint we missed; between
  // those, scans run only when a client bumped the hint.
  const uint64_t full_every = std::max<uint64_t>(1, 1000 / cfg_.tick_ms);
  while (!stopping_.load(std::memory_order_acquire)) {
    tick(ticks_ % full_every == 0);
    // Sleep in short steps so stop() is honoured promptly.
    for (uint32_t slept = 0; slept < cfg_.tick_ms && !stopping_.load(std::memory_order_acquire); slept += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(10, cfg_.tick_ms - slept)));
  }
  tick(true);  // deliver what is due before leaving
  spdlog::info("agentbudgetd stopping; ledger '{}' stays for clients and the next daemon", cfg_.ledger);
}

void Daemon::stop() { stopping_.store(true, std::memory_order_release); }

}  // namespace ab
