#include "metrics.h"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <httplib.h>

#include "config_seqlock.h"
#include "daemon.h"
#include "pool_period.h"
#include "status.h"

namespace ab {

// ---------------------------------------------------------------------------
// Counters

void DaemonMetrics::deliver(const Event& e) {
  int k = int(e.kind);
  if (k >= 0 && k < kEventKindCount) events_[k].fetch_add(1, std::memory_order_relaxed);
  if (e.kind != EventKind::kCallDenied) return;
  int slot = kReasonSlots - 1;  // a name this build does not know
  for (int r = 0; r < kReasonSlots - 1; ++r)
    if (e.reason == reason_name(Reason(r))) slot = r;
  denied_[slot].fetch_add(1, std::memory_order_relaxed);
}

void DaemonMetrics::note_tick(uint64_t ticks, uint64_t duration_ns, const ReapStats& reaped,
                              const RecycleStats& recycled) {
  constexpr auto rel = std::memory_order_relaxed;
  ticks_.store(ticks, rel);
  last_tick_ns_.store(duration_ns, rel);
  released_dead_.store(reaped.released_dead, rel);
  released_lease_.store(reaped.released_lease, rel);
  repaired_.store(reaped.repaired, rel);
  pending_repairs_.store(reaped.pending_repairs, rel);
  recycled_.store(recycled.recycled, rel);
  emptied_.store(recycled.emptied, rel);
}

// ---------------------------------------------------------------------------
// Exposition

namespace {

// Label values escape backslash, double quote and newline; HELP text
// escapes backslash and newline (format 0.0.4).
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quote)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

class Exposition {
 public:
  // Starts a metric family: every sample below belongs to it.
  void family(const char* name, const char* type, const char* help) {
    name_ = std::string("agentbudget_") + name;
    out_ += "# HELP " + name_ + " " + escape(help, false) + "\n# TYPE " + name_ + " " + type + "\n";
  }
  void sample(int64_t v) { line("", v); }
  void sample(const char* label, std::string_view value, int64_t v) { sample({{label, value}}, v); }
  void sample(std::initializer_list<std::pair<const char*, std::string_view>> labels, int64_t v) {
    std::string l = "{";
    for (auto& [key, value] : labels)
      l += (l.size() > 1 ? "," : "") + std::string(key) + "=\"" + escape(value, true) + "\"";
    line(l + "}", v);
  }
  void seconds(double s) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, s);
    out_ += name_ + " " + std::string(buf, r.ptr) + "\n";
  }
  std::string take() { return std::move(out_); }

 private:
  void line(const std::string& labels, int64_t v) { out_ += name_ + labels + " " + std::to_string(v) + "\n"; }
  std::string out_;
  std::string name_;
};

std::string fixed_name(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

struct PoolView {
  std::string name;
  Nanos hard = kNoLimit;
  uint64_t period = 0;
};

}  // namespace

std::string render_metrics(Daemon& d, uint64_t now_unix_ns) {
  constexpr auto rel = std::memory_order_relaxed;
  const Ledger& l = d.ledger();
  const DaemonMetrics& m = d.metrics();
  // Names and pool definitions under the config seqlock: the daemon thread
  // may be rewriting them (reload, calendar starts). A daemon killed
  // mid-write cannot be this one, so kBusy only means "retry later": the
  // scrape then shows the counters without names.
  std::vector<std::string> policies;
  std::vector<PoolView> pools;
  const ConfigHeader& c = *l.config();
  int64_t now_s = int64_t(now_unix_ns / 1'000'000'000u);
  Status names = read_config(c, [&] {
    policies.clear();
    pools.clear();
    uint32_t np = std::min<uint32_t>(c.policy_count, kMaxPolicies);
    for (uint32_t i = 0; i < np; ++i) policies.push_back(fixed_name(l.policies()[i].name, sizeof(Policy::name)));
    uint32_t nq = std::min<uint32_t>(c.pool_count, kMaxPools);
    for (uint32_t i = 0; i < nq; ++i) {
      const PoolDef& def = l.pool_defs()[i];
      pools.push_back({fixed_name(def.name, sizeof def.name), def.hard_nanos.load(rel), period_of(def, now_s)});
    }
  });
  if (names != Status::kOk) policies.clear(), pools.clear();

  // One pass over the run table: the slot word (line 0) for every slot,
  // `spent` (line 4) only for runs. The acquire load of the word makes the
  // claimer's identity fields (policy) visible.
  uint64_t active = 0, closed = 0;
  std::vector<int64_t> spend(policies.size(), 0);
  const RunSlot* slots = l.slots();
  for (uint32_t i = 0, n = l.capacity(); i < n; ++i) {
    SlotState st = word_state(slots[i].word.load(std::memory_order_acquire));
    if (st == SlotState::kActive)
      ++active;
    else if (st == SlotState::kClosed)
      ++closed;
    else
      continue;
    if (slots[i].policy < spend.size()) spend[slots[i].policy] += slots[i].spent.load(rel);
  }

  Exposition x;
  x.family("runs_active", "gauge", "Runs begun and not ended, in the run table.");
  x.sample(int64_t(active));
  x.family("runs_closed", "gauge",
           "Ended runs still in the run table (their slots are recycled after a grace period).");
  x.sample(int64_t(closed));
  x.family("run_capacity", "gauge", "Slots of the run table.");
  x.sample(int64_t(l.capacity()));
  x.family("run_table_full_total", "counter", "Run begins refused because the run table was full.");
  x.sample(int64_t(l.header()->table_full_count.load(rel)));
  x.family("spend_nanousd_total", "gauge",
           "Spend in nano-USD of the active and ended runs in the run table, by policy. A gauge: it drops when "
           "ended runs' slots are recycled.");
  for (size_t i = 0; i < policies.size(); ++i) x.sample("policy", policies[i], spend[i]);

  x.family("pool_spend_nanousd", "gauge", "Spend in nano-USD of the pool's current period.");
  for (size_t i = 0; i < pools.size(); ++i)
    x.sample("pool", pools[i].name, period_spent(l.pools()[i], pools[i].period));
  x.family("pool_hard_limit_nanousd", "gauge", "Hard limit in nano-USD of each pool that has one, per period.");
  for (auto& p : pools)
    if (p.hard != kNoLimit) x.sample("pool", p.name, p.hard);
  x.family("pool_period", "gauge", "Number of the pool's current period (0 for pools without periods).");
  for (auto& p : pools) x.sample("pool", p.name, int64_t(p.period));
  x.family("held_nanousd", "gauge", "Nano-USD reserved by outstanding holds of the pool's runs.");
  for (size_t i = 0; i < pools.size(); ++i) x.sample("pool", pools[i].name, l.pools()[i].held.load(rel));

  x.family("runs_denied_total", "counter",
           "Runs denied a call, by reason. Counts call_denied events: one per run (its first denial, with the "
           "reason recorded when the daemon saw it), so it counts runs denied, not calls denied.");
  for (int r = 0; r < DaemonMetrics::kReasonSlots - 1; ++r)
    if (Reason(r) != Reason::kNone) x.sample("reason", reason_name(Reason(r)), int64_t(m.denied_runs(r)));
  x.sample("reason", "other", int64_t(m.denied_runs(DaemonMetrics::kReasonSlots - 1)));
  x.family("events_total", "counter", "Events the daemon delivered to its sinks, by kind.");
  for (int k = 0; k < kEventKindCount; ++k)
    x.sample("kind", event_kind_name(EventKind(k)), int64_t(m.events(EventKind(k))));

  x.family("holds_reclaimed_total", "counter", "Holds the daemon released: of dead processes, or past their lease.");
  x.sample("cause", "dead_process", int64_t(m.released_dead_.load(rel)));
  x.sample("cause", "lease_expired", int64_t(m.released_lease_.load(rel)));
  x.family("holds_repaired_total", "counter", "Interrupted hold or charge updates the daemon repaired.");
  x.sample(int64_t(m.repaired_.load(rel)));
  x.family("hold_repairs_pending", "gauge", "Interrupted updates waiting for their repair.");
  x.sample(int64_t(m.pending_repairs_.load(rel)));
  x.family("slots_recycled_total", "counter", "Ended runs whose slots the daemon recycled.");
  x.sample(int64_t(m.recycled_.load(rel)));
  x.family("slots_emptied_total", "counter", "Tombstone slots the daemon made empty again.");
  x.sample(int64_t(m.emptied_.load(rel)));

  uint64_t beat = l.header()->heartbeat_unix_ns.load(rel);
  x.family("heartbeat_age_seconds", "gauge", "Seconds since the daemon's last heartbeat in the ledger.");
  x.seconds(now_unix_ns > beat ? double(now_unix_ns - beat) / 1e9 : 0.0);
  x.family("start_time_seconds", "gauge", "Unix time at which the daemon created or adopted the ledger.");
  x.seconds(double(m.started_unix_ns_.load(rel)) / 1e9);
  x.family("daemon_epoch", "gauge", "Daemon starts and adoptions of this ledger.");
  x.sample(int64_t(l.header()->daemon_epoch.load(rel)));
  x.family("ticks_total", "counter", "Passes of the daemon's periodic work.");
  x.sample(int64_t(m.ticks_.load(rel)));
  x.family("last_tick_duration_seconds", "gauge", "Duration of the daemon's last pass of periodic work.");
  x.seconds(double(m.last_tick_ns_.load(rel)) / 1e9);
  x.family("config_version", "gauge", "Configurations applied to the ledger's config segment.");
  x.sample(int64_t(c.config_version));
  x.family("config_reloads_total", "counter", "Configuration reloads applied.");
  x.sample(int64_t(d.reloads()));
  x.family("config_reload_failures_total", "counter",
           "Configuration reloads refused (the running configuration stayed).");
  x.sample(int64_t(d.reload_failures()));

  SnapshotStats snap = d.snapshot_stats();
  x.family("snapshots_total", "counter", "Snapshots of the ledger to disk: written, skipped as unchanged, failed.");
  x.sample("result", "written", int64_t(snap.written));
  x.sample("result", "unchanged", int64_t(snap.unchanged));
  x.sample("result", "failed", int64_t(snap.failed));
  x.family("snapshot_last_written_time_seconds", "gauge", "Unix time of the last snapshot written (0: none yet).");
  x.seconds(double(snap.last_written_unix_ns) / 1e9);
  x.family("snapshot_last_capture_duration_seconds", "gauge",
           "Time the daemon thread spent copying the ledger for the last snapshot.");
  x.seconds(double(snap.last_capture_ns) / 1e9);
  x.family("snapshot_last_write_duration_seconds", "gauge",
           "Time the last snapshot took to encode, write, fsync and rename.");
  x.seconds(double(snap.last_write_ns) / 1e9);
  x.family("snapshot_last_bytes", "gauge", "Size of the last snapshot file.");
  x.sample(int64_t(snap.last_bytes));

  // Notification sinks, by position in the configuration (targets may hold
  // secrets, so they are not labels).
  std::vector<SinkStats> sinks[2] = {d.webhook_stats(), d.exec_stats()};
  const char* kinds[2] = {"webhook", "exec"};
  auto each_sink = [&](auto&& fn) {
    for (int k = 0; k < 2; ++k)
      for (size_t i = 0; i < sinks[k].size(); ++i) fn(kinds[k], std::to_string(i), sinks[k][i]);
  };
  x.family("notifications_total", "counter",
           "Events of each notification sink ([[notify.webhook]], [[notify.exec]] by position) by outcome: sent, "
           "failed after its retries (timeouts included), or dropped unattempted.");
  each_sink([&](const char* sink, const std::string& index, const SinkStats& s) {
    for (auto [outcome, n] : {std::pair{"sent", s.sent}, {"failed", s.failed}, {"dropped", s.dropped}})
      x.sample({{"sink", sink}, {"index", index}, {"outcome", outcome}}, int64_t(n));
  });
  x.family("notification_retries_total", "counter", "Extra delivery attempts of each webhook.");
  each_sink([&](const char* sink, const std::string& index, const SinkStats& s) {
    if (sink == kinds[0]) x.sample({{"sink", sink}, {"index", index}}, int64_t(s.retried));
  });
  x.family("notification_timeouts_total", "counter", "Hook commands killed at their timeout.");
  each_sink([&](const char* sink, const std::string& index, const SinkStats& s) {
    if (sink == kinds[1]) x.sample({{"sink", sink}, {"index", index}}, int64_t(s.timed_out));
  });
  x.family("run_signals_sent_total", "counter", "Signals sent to runs' processes by policies' on_hard_signal.");
  x.sample(int64_t(d.signals_sent()));
  return x.take();
}

// ---------------------------------------------------------------------------
// HTTP server

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
};

MetricsServer::MetricsServer() : impl_(std::make_unique<Impl>()) {}
MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::bind(const std::string& listen, std::string* message) {
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  if (colon != std::string::npos) {
    auto [end, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
    if (ec != std::errc() || end != listen.data() + listen.size() || port > 65535) port = -1;
  }
  if (host.empty() || port < 0) {
    *message = "metrics: listen must be HOST:PORT, not '" + listen + "'";
    return false;
  }
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
  // a second daemon share the port instead of failing.
  impl_->server.set_socket_options([](socket_t s) {
    int yes = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  errno = 0;
  int bound = port == 0 ? impl_->server.bind_to_any_port(host) : impl_->server.bind_to_port(host, port) ? port : -1;
  if (bound <= 0) {
    int err = errno;
    *message = "metrics: cannot listen on " + listen + (err ? std::string(": ") + std::strerror(err) : "") +
               " (set [metrics] listen to a free loopback port, or to \"\" for no metrics)";
    return false;
  }
  port_ = bound;
  return true;
}

void MetricsServer::start(std::function<std::string()> render) {
  httplib::Server& s = impl_->server;
  // One scrape at a time is plenty, and keeps the daemon at two threads.
  s.new_task_queue = [] { return new httplib::ThreadPool(1); };
  s.set_keep_alive_timeout(1);  // bounds how long stop() waits for an idle client
  s.set_read_timeout(5);
  s.Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Other paths get httplib's 404.
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->finished.store(true, std::memory_order_release);
  });
  // httplib's stop() is a no-op until listening starts: wait for it, so a
  // stop() right after start() cannot be lost.
  while (!s.is_running() && !impl_->finished.load(std::memory_order_acquire))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void MetricsServer::stop() {
  // httplib closes its socket only in stop() of a running server: a server
  // bound by a start() that failed later is started just to be stopped.
  if (!impl_->thread.joinable() && port_ > 0) start([] { return std::string(); });
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
  port_ = 0;
}

}  // namespace ab
