// Daemon::reload: re-reading the configuration file and applying it whole.
#include <spdlog/spdlog.h>

#include "config_apply.h"
#include "daemon.h"
#include "ledger_owner.h"
#include "price_table.h"
#include "run_ops.h"
#include "run_thresholds.h"

namespace ab {

namespace {

constexpr const char* kBuiltIn = "<built-in default>";

// After a policy changed, every active run's thresholds follow it.
void refresh_run_thresholds(Ledger& l) {
  for (uint32_t i = 0; i < l.capacity(); ++i) refresh_thresholds(l, l.slots()[i]);
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

}  // namespace

std::string Daemon::last_reload_error() const {
  std::lock_guard lock(config_mu_);
  return last_reload_error_;
}

bool Daemon::reload(std::string* error) {
  std::lock_guard lock(config_mu_);
  return reload_locked(error);
}

bool Daemon::reload_locked(std::string* error) {
  auto fail = [&](const std::string& why) {
    last_reload_error_ = why;
    reload_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("reload refused, the running configuration stays: {}", why);
    if (error) *error = why;
    return false;
  };
  if (cfg_.source == kBuiltIn) return fail("running on the built-in configuration: there is no file to reload");
  config_stamp_ = stamp_of(cfg_.source);
  DaemonConfig next;
  std::vector<std::string> errors;
  if (!load_config_file(cfg_.source, &next, &errors)) return fail(join(errors));
  next.ledger = cfg_.ledger;  // chosen at start (--ledger may override the file)
  if (auto changed = restart_only_changes(cfg_, next); !changed.empty()) return fail(join(changed));
  std::string prices_path = next.price_table.empty() ? default_price_table_path() : next.price_table;
  PriceTableLoad prices;
  std::string err;
  if (!load_litellm_prices(prices_path, &prices, &err)) return fail(next.source + ": price_table: " + err);
  if (prices.models.size() > size_t(kMaxModels)) prices.models.resize(kMaxModels);
  auto* seg = static_cast<ConfigHeader*>(ledger_->config_segment().data());
  if (!keep_indexes(*seg, &next, &err)) return fail(next.source + ": " + err);

  // Everything is checked: from here the new configuration applies whole.
  write_config_segment(seg, next, prices.models);
  refresh_run_thresholds(*ledger_);
  const bool notify_changed = !(next.notify == cfg_.notify);
  cfg_ = std::move(next);
  // New sinks only when [notify] changed: queued webhook deliveries survive
  // a reload that only moved limits.
  if (notify_changed)
    apply_notify();
  else
    apply_signals();
  models_ = std::move(prices.models);
  model_count_ = models_.size();
  last_reload_error_.clear();
  reloads_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("configuration reloaded from {} ({} policies, {} pools, {} priced models)", cfg_.source,
               cfg_.policies.size(), cfg_.pools.size(), model_count_);
  return true;
}

void Daemon::reload_if_changed() {
  std::lock_guard lock(config_mu_);
  bool asked = reload_requested_.exchange(false, std::memory_order_acq_rel);
  if (cfg_.source == kBuiltIn) {
    if (asked) spdlog::info("SIGHUP: running on the built-in configuration, nothing to reload");
    return;
  }
  FileStamp now = stamp_of(cfg_.source);
  bool edited = now.exists && !(now == config_stamp_);
  if (!asked && !edited) return;
  if (edited && !asked) spdlog::info("{} changed; reloading", cfg_.source);
  std::string error;
  reload_locked(&error);
}

}  // namespace ab
