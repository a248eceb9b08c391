#include "ledger_owner.h"

#include <grp.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "clock.h"
#include "config_apply.h"
#include "config_seqlock.h"
#include "model_index.h"
#include "period_starts.h"

namespace ab {

static void fill_policy(Policy* p, const PolicyConfig& pc, const std::vector<PoolConfig>& pools) {
  for (int k = 0; k < kMaxRunPools; ++k) p->pools[k] = kNoPool;
  for (size_t k = 0; k < pc.pools.size() && k < size_t(kMaxRunPools); ++k)
    for (size_t i = 0; i < pools.size(); ++i)
      if (pools[i].name == pc.pools[k]) p->pools[k] = uint16_t(i);
  std::memset(p->name, 0, sizeof p->name);
  std::memcpy(p->name, pc.name.data(), std::min(pc.name.size(), sizeof p->name - 1));
  p->hard_nanos.store(pc.hard, std::memory_order_relaxed);
  p->soft_count = uint32_t(std::min<size_t>(pc.soft_permille.size(), kMaxSoftThresholds));
  for (int k = 0; k < kMaxSoftThresholds; ++k)
    p->soft_permille[k] = uint32_t(k) < p->soft_count ? pc.soft_permille[size_t(k)] : 0;
  p->unknown_model = pc.unknown_model;
  p->fallback_input = pc.fallback_input;
  p->fallback_output = pc.fallback_output;
  p->max_calls = pc.max_calls;
  p->max_tokens = pc.max_tokens;
  p->max_duration_s = pc.max_duration_s;
  p->max_in_flight = pc.max_in_flight;
  p->loop_limit = pc.loop_limit;
  p->hold_lease_s = pc.hold_lease_s;
  p->match_count = uint32_t(std::min<size_t>(pc.matches.size(), kMaxPolicyMatches));
  std::memset(p->matches, 0, sizeof p->matches);
  for (uint32_t m = 0; m < p->match_count; ++m) {
    auto& [k, v] = pc.matches[m];
    std::memcpy(p->matches[m].key, k.data(), std::min(k.size(), sizeof p->matches[m].key - 1));
    std::memcpy(p->matches[m].value, v.data(), std::min(v.size(), sizeof p->matches[m].value - 1));
  }
}

static void fill_pool(PoolDef* d, const PoolConfig& pc, int64_t now) {
  std::memset(d->name, 0, sizeof d->name);
  std::memcpy(d->name, pc.name.data(), std::min(pc.name.size(), sizeof d->name - 1));
  d->hard_nanos.store(pc.hard, std::memory_order_relaxed);
  d->soft_count = uint32_t(std::min<size_t>(pc.soft_permille.size(), kMaxSoftThresholds));
  for (int k = 0; k < kMaxSoftThresholds; ++k)
    d->soft_permille[k] = uint32_t(k) < d->soft_count ? pc.soft_permille[size_t(k)] : 0;
  d->rolling_s = 0;
  d->anchor_unix_s = 0;
  d->first_period = 0;
  d->start_count = 0;
  if (pc.period == "rolling") {
    d->period = PeriodKind::kRolling;
    d->rolling_s = pc.rolling_s;
  } else if (pc.period == "none") {
    d->period = PeriodKind::kNone;
  } else {
    d->period = PeriodKind::kCalendar;
    std::vector<int64_t> starts;
    uint64_t first = 0;
    if (calendar_starts(pc.period, pc.timezone, now, kPeriodBoundaries, &first, &starts)) {
      d->first_period = first;
      std::copy(starts.begin(), starts.end(), d->starts);
      d->start_count = uint32_t(starts.size());
    }
  }
}

bool pool_periods_need_refresh(const ConfigHeader* c, int64_t now) {
  auto* defs = reinterpret_cast<const PoolDef*>(reinterpret_cast<const char*>(c) + c->pools_offset);
  for (uint32_t i = 0; i < c->pool_count && i < uint32_t(kMaxPools); ++i) {
    const PoolDef& d = defs[i];
    if (d.period != PeriodKind::kCalendar || d.retired) continue;
    // Republish while a quarter of the published starts is still ahead.
    uint32_t n = d.start_count;
    if (n == 0 || d.starts[n - n / 4 - 1] <= now) return true;
  }
  return false;
}

void write_config_segment(ConfigHeader* c, const DaemonConfig& cfg, const std::vector<ModelPrice>& models) {
  auto* base = reinterpret_cast<char*>(c);
  auto* policies = reinterpret_cast<Policy*>(base + c->policies_offset);
  auto* table = reinterpret_cast<ModelPrice*>(base + c->models_offset);
  auto* index = reinterpret_cast<uint32_t*>(base + c->model_index_offset);
  uint32_t n_models = uint32_t(std::min<size_t>(models.size(), kMaxModels));
  uint32_t n_policies = uint32_t(std::min<size_t>(cfg.policies.size(), kMaxPolicies));

  config_write_begin(*c);
  // A retired entry keeps what the segment holds (its runs keep their
  // limits); it is only marked, so no new run chooses it.
  for (uint32_t i = 0; i < n_policies; ++i) {
    if (!cfg.policies[i].retired) fill_policy(&policies[i], cfg.policies[i], cfg.pools);
    policies[i].retired = cfg.policies[i].retired ? 1 : 0;
  }
  auto* pool_defs = reinterpret_cast<PoolDef*>(base + c->pools_offset);
  uint32_t n_pools = uint32_t(std::min<size_t>(cfg.pools.size(), kMaxPools));
  int64_t now = int64_t(unix_ns() / 1'000'000'000u);
  for (uint32_t i = 0; i < n_pools; ++i) {
    if (!cfg.pools[i].retired) fill_pool(&pool_defs[i], cfg.pools[i], now);
    pool_defs[i].retired = cfg.pools[i].retired ? 1 : 0;
  }
  if (n_models) std::memcpy(static_cast<void*>(table), models.data(), n_models * sizeof(ModelPrice));
  std::memset(index, 0, c->model_index_capacity * sizeof(uint32_t));
  build_model_index(table, n_models, index, c->model_index_capacity);
  c->policy_count = n_policies;
  c->pool_count = n_pools;
  c->model_count = n_models;
  c->config_version += 1;
  config_write_end(*c);
}

static gid_t client_gid(const DaemonConfig& cfg) {
  if (cfg.group.empty()) return gid_t(-1);
  struct group* g = getgrnam(cfg.group.c_str());
  return g ? g->gr_gid : gid_t(-1);
}

static void init_data_header(DataHeader* h, uint32_t capacity, uint32_t holds) {
  h->magic = kDataMagic;
  h->layout_major = kLayoutMajor;
  h->layout_minor = kLayoutMinor;
  h->fingerprint = kLayoutFingerprint;
  h->segment_size = data_segment_size(capacity, holds);
  h->run_capacity = capacity;
  h->hold_capacity = holds;
  h->runs_offset = sizeof(DataHeader);
  h->holds_offset = sizeof(DataHeader) + uint64_t(capacity) * sizeof(RunSlot);
  h->created_unix_ns = unix_ns();
  // Slots are zero-filled by creation: every slot is kEmpty, generation 0.
}

static void init_config_header(ConfigHeader* c) {
  c->magic = kConfigMagic;
  c->layout_major = kLayoutMajor;
  c->layout_minor = kLayoutMinor;
  c->fingerprint = kLayoutFingerprint;
  c->segment_size = config_segment_size(kModelIndexCapacity);
  c->policies_offset = sizeof(ConfigHeader);
  c->models_offset = c->policies_offset + uint64_t(kMaxPolicies) * sizeof(Policy);
  c->model_index_offset = c->models_offset + uint64_t(kMaxModels) * sizeof(ModelPrice);
  c->model_index_capacity = kModelIndexCapacity;
  c->pools_offset = c->model_index_offset + uint64_t(kModelIndexCapacity) * sizeof(uint32_t);
}

bool remove_ledger(const std::string& ledger) {
  bool a = Segment::remove(config_segment_name(ledger));
  bool b = Segment::remove(data_segment_name(ledger));
  return a || b;
}

static OwnResult create(const DaemonConfig& cfg, const std::vector<ModelPrice>& models, std::unique_ptr<Ledger>* out,
                        const OnCreate& on_create) {
  OwnResult r;
  gid_t gid = client_gid(cfg);
  if (gid == gid_t(-1) && cfg.group_required) {
    r.status = Status::kPermission;
    r.message = "group '" + cfg.group + "' does not exist (create it, or set group = \"\")";
    return r;
  }
  Segment data, config;
  // The config segment first: a data segment is only ever ready when its
  // config exists, and clients map the config read-only (0640).
  SegmentError e = Segment::create(config_segment_name(cfg.ledger), config_segment_size(kModelIndexCapacity), 0640, gid,
                                   &config, &r.message);
  if (e != SegmentError::kNone) {
    r.status = e == SegmentError::kPermission ? Status::kPermission : Status::kSystem;
    return r;
  }
  auto* c = static_cast<ConfigHeader*>(config.data());
  init_config_header(c);
  write_config_segment(c, cfg, models);
  c->ready.store(1, std::memory_order_release);

  e = Segment::create(data_segment_name(cfg.ledger), data_segment_size(cfg.run_capacity, cfg.hold_capacity), 0660, gid,
                      &data, &r.message);
  if (e != SegmentError::kNone) {
    Segment::remove(config_segment_name(cfg.ledger));
    r.status = e == SegmentError::kPermission ? Status::kPermission : Status::kSystem;
    return r;
  }
  auto* h = static_cast<DataHeader*>(data.data());
  init_data_header(h, cfg.run_capacity, cfg.hold_capacity);
  h->daemon_pid.store(uint32_t(getpid()), std::memory_order_relaxed);
  h->daemon_epoch.store(1, std::memory_order_relaxed);
  h->heartbeat_unix_ns.store(unix_ns(), std::memory_order_relaxed);

  auto l = std::make_unique<Ledger>();
  l->bind(std::move(data), std::move(config), cfg.ledger);
  // Restore before any client can begin a run (ready is still 0), so no
  // client-made run can clash with a restored one.
  bool restored = false;
  if (on_create && !on_create(*l, &restored, &r.message)) {
    l.reset();
    remove_ledger(cfg.ledger);
    r.status = Status::kCorrupt;
    return r;
  }
  // Written last: from here on clients may trust every field above.
  h->ready.store(uint32_t(kDataMagic), std::memory_order_release);
  *out = std::move(l);
  r.outcome = restored ? OwnOutcome::kRestored : OwnOutcome::kCreated;
  return r;
}

OwnResult own_ledger(const DaemonConfig& cfg, const std::vector<ModelPrice>& models, std::unique_ptr<Ledger>* out,
                     const OnCreate& on_create) {
  OwnResult r;
  if (!valid_ledger_name(cfg.ledger)) {
    r.status = Status::kInvalidArgument;
    r.message = "invalid ledger name '" + cfg.ledger + "'";
    return r;
  }
  Segment data;
  SegmentError e = Segment::open(data_segment_name(cfg.ledger), true, &data, &r.message);
  if (e == SegmentError::kNotFound) {
    Segment::remove(config_segment_name(cfg.ledger));  // an orphan config has no users
    return create(cfg, models, out, on_create);
  }
  if (e != SegmentError::kNone) {
    r.status = e == SegmentError::kPermission ? Status::kPermission : Status::kSystem;
    return r;
  }
  auto* h = static_cast<DataHeader*>(data.data());
  if (data.size() >= sizeof(DataHeader) && h->ready.load(std::memory_order_acquire) == 0) {
    // A daemon died while creating it; no client ever saw it ready.
    data = Segment();
    remove_ledger(cfg.ledger);
    return create(cfg, models, out, on_create);
  }
  Segment config;
  e = Segment::open(config_segment_name(cfg.ledger), true, &config, &r.message);
  if (e != SegmentError::kNone) {
    r.status = Status::kCorrupt;
    r.message = "data segment exists but its config segment cannot be opened: " + r.message;
    return r;
  }
  // Only segments this daemon's user created, with the modes it gives them:
  // anything else may have been planted to raise limits.
  for (auto* seg : {&data, &config}) {
    uid_t uid = 0;
    mode_t mode = 0;
    mode_t want = seg == &data ? 0660 : 0640;
    if (!seg->owner(&uid, &mode) || uid != geteuid() || mode != want) {
      r.status = Status::kPermission;
      r.message = "refusing to adopt ledger '" + cfg.ledger + "': /dev/shm/" +
                  (seg == &data ? data_segment_name(cfg.ledger) : config_segment_name(cfg.ledger)) +
                  " is owned by uid " + std::to_string(uid) + " with mode " + std::to_string(mode) +
                  ", not by this daemon's uid " + std::to_string(geteuid()) + " with mode " + std::to_string(want) +
                  " (remove it with: agentbudgetd --remove-ledger)";
      return r;
    }
  }
  r.status = Ledger::validate(data, config, &r.message);
  if (r.status != Status::kOk) {
    r.message = "refusing to adopt ledger '" + cfg.ledger + "': " + r.message +
                " (remove it with: agentbudgetd --remove-ledger, losing its runs)";
    return r;
  }
  uint32_t other = h->daemon_pid.load(std::memory_order_relaxed);
  if (other != 0 && other != uint32_t(getpid()) && process_liveness(other, 0) == Liveness::kAlive &&
      unix_ns() - h->heartbeat_unix_ns.load(std::memory_order_relaxed) < 3'000'000'000ull) {
    r.status = Status::kBusy;
    r.message = "ledger '" + cfg.ledger + "' is owned by a running agentbudgetd (pid " + std::to_string(other) + ")";
    return r;
  }
  // Runs refer to policies and pools by index: keep every existing name at
  // its index whatever order the (possibly edited) configuration uses.
  DaemonConfig aligned = cfg;
  if (!keep_indexes(*static_cast<const ConfigHeader*>(config.data()), &aligned, &r.message)) {
    r.status = Status::kInvalidArgument;
    r.message = "cannot apply the configuration to ledger '" + cfg.ledger + "': " + r.message;
    return r;
  }
  write_config_segment(static_cast<ConfigHeader*>(config.data()), aligned, models);
  h->daemon_pid.store(uint32_t(getpid()), std::memory_order_relaxed);
  h->daemon_epoch.fetch_add(1, std::memory_order_relaxed);
  h->heartbeat_unix_ns.store(unix_ns(), std::memory_order_relaxed);
  auto l = std::make_unique<Ledger>();
  l->bind(std::move(data), std::move(config), cfg.ledger);
  *out = std::move(l);
  r.outcome = OwnOutcome::kAdopted;
  return r;
}

}  // namespace ab
