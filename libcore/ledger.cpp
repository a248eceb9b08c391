#include "ledger.h"

#include "crash_point.h"

#include <sched.h>
#include <unistd.h>

#include <cstring>

#include "clock.h"
#include "config_seqlock.h"
#include "create_lease.h"
#include "labels.h"
#include "model_index.h"
#include "run_id.h"

namespace ab {

static Status from_segment_error(SegmentError e) {
  switch (e) {
    case SegmentError::kNone: return Status::kOk;
    case SegmentError::kNotFound: return Status::kNoLedger;
    case SegmentError::kPermission: return Status::kPermission;
    case SegmentError::kTooSmall: return Status::kCorrupt;
    default: return Status::kSystem;
  }
}

Status Ledger::validate(const Segment& data, const Segment& config, std::string* message) {
  if (data.size() < sizeof(DataHeader)) {
    *message = "data segment smaller than its header";
    return Status::kCorrupt;
  }
  auto* h = static_cast<const DataHeader*>(data.data());
  if (h->ready.load(std::memory_order_acquire) == 0) {
    *message = "data segment not initialised yet";
    return Status::kNotReady;
  }
  if (h->magic != kDataMagic) {
    *message = "data segment has a wrong magic number";
    return Status::kCorrupt;
  }
  if (h->layout_major != kLayoutMajor || h->fingerprint != kLayoutFingerprint) {
    *message = "data segment layout " + std::to_string(h->layout_major) + "." + std::to_string(h->layout_minor) +
               " (fingerprint mismatch) is not this library's " + std::to_string(kLayoutMajor) + "." +
               std::to_string(kLayoutMinor);
    return Status::kIncompatible;
  }
  uint32_t cap = h->run_capacity, holds = h->hold_capacity;
  if (cap == 0 || cap > kMaxRunCapacity || (cap & (cap - 1)) != 0 || holds == 0 || holds > kMaxRunCapacity ||
      h->runs_offset != sizeof(DataHeader) || h->holds_offset != sizeof(DataHeader) + uint64_t(cap) * sizeof(RunSlot) ||
      h->segment_size != data_segment_size(cap, holds) || data.size() < h->segment_size) {
    *message = "data segment header is inconsistent (capacity " + std::to_string(cap) + ", size " +
               std::to_string(data.size()) + ")";
    return Status::kCorrupt;
  }
  if (config.size() < sizeof(ConfigHeader)) {
    *message = "config segment smaller than its header";
    return Status::kCorrupt;
  }
  auto* c = static_cast<const ConfigHeader*>(config.data());
  if (c->ready.load(std::memory_order_acquire) == 0) {
    *message = "config segment not initialised yet";
    return Status::kNotReady;
  }
  if (c->magic != kConfigMagic) {
    *message = "config segment has a wrong magic number";
    return Status::kCorrupt;
  }
  if (c->layout_major != kLayoutMajor || c->fingerprint != kLayoutFingerprint) {
    *message = "config segment layout is not this library's";
    return Status::kIncompatible;
  }
  uint32_t icap = c->model_index_capacity;
  uint64_t policies_end = c->policies_offset + uint64_t(kMaxPolicies) * sizeof(Policy);
  uint64_t models_end = c->models_offset + uint64_t(kMaxModels) * sizeof(ModelPrice);
  uint64_t index_end = models_end + uint64_t(icap) * sizeof(uint32_t);
  if (icap == 0 || (icap & (icap - 1)) != 0 || c->segment_size != config_segment_size(icap) ||
      config.size() < c->segment_size || c->policies_offset != sizeof(ConfigHeader) ||
      c->models_offset != policies_end || c->model_index_offset != models_end || c->pools_offset != index_end ||
      c->pool_count > uint32_t(kMaxPools) || c->policy_count == 0 || c->policy_count > uint32_t(kMaxPolicies) ||
      c->model_count > uint32_t(kMaxModels)) {
    *message = "config segment header is inconsistent";
    return Status::kCorrupt;
  }
  return Status::kOk;
}

void Ledger::bind(Segment data, Segment config, std::string name) {
  data_ = std::move(data);
  config_seg_ = std::move(config);
  name_ = std::move(name);
  header_ = static_cast<DataHeader*>(data_.data());
  slots_ = reinterpret_cast<RunSlot*>(static_cast<char*>(data_.data()) + header_->runs_offset);
  capacity_ = header_->run_capacity;
  holds_ = reinterpret_cast<HoldSlot*>(static_cast<char*>(data_.data()) + header_->holds_offset);
  hold_capacity_ = header_->hold_capacity;
  pools_ = reinterpret_cast<PoolSlot*>(reinterpret_cast<char*>(holds_) + uint64_t(hold_capacity_) * sizeof(HoldSlot));
  leases_ = reinterpret_cast<std::atomic<uint64_t>*>(pools_ + kMaxPools);
  auto* base = static_cast<const char*>(config_seg_.data());
  config_ = reinterpret_cast<const ConfigHeader*>(base);
  policies_ = reinterpret_cast<const Policy*>(base + config_->policies_offset);
  models_ = reinterpret_cast<const ModelPrice*>(base + config_->models_offset);
  model_index_ = reinterpret_cast<const uint32_t*>(base + config_->model_index_offset);
  pool_defs_ = reinterpret_cast<const PoolDef*>(base + config_->pools_offset);
  self_ = self_identity();
  self_fork_generation_.store(fork_generation(), std::memory_order_release);
}

Status Ledger::open(const std::string& name, bool writable_data, std::unique_ptr<Ledger>* out, std::string* message) {
  if (!valid_ledger_name(name)) {
    *message = "invalid ledger name '" + name + "' (1-200 of [A-Za-z0-9_.-])";
    return Status::kInvalidArgument;
  }
  Segment data, config;
  SegmentError e = Segment::open(data_segment_name(name), writable_data, &data, message);
  if (e != SegmentError::kNone) return from_segment_error(e);
  // Clients never map the config segment writable (DESIGN.md "Who may do what").
  e = Segment::open(config_segment_name(name), false, &config, message);
  if (e != SegmentError::kNone) return from_segment_error(e);
  Status s = validate(data, config, message);
  if (s != Status::kOk) return s;
  auto ledger = std::make_unique<Ledger>();
  ledger->bind(std::move(data), std::move(config), name);
  *out = std::move(ledger);
  return Status::kOk;
}

ProcessIdentity Ledger::identity() const {
  // Refresh after fork (the child must not claim slots under its parent's
  // pid), noticed through the atfork counter: no syscall on the hot path.
  uint64_t gen = fork_generation();
  if (self_fork_generation_.load(std::memory_order_acquire) != gen) {
    self_ = self_identity();
    self_fork_generation_.store(gen, std::memory_order_release);
  }
  return self_;
}

Status Ledger::resolve_policy(std::string_view labels, uint16_t* policy) const {
  LabelSet set;
  if (!parse_labels(labels, &set)) return Status::kInvalidLabels;
  int found = 0;
  Status s = read_config(*config_, [&] { found = match_policy(policies_, config_->policy_count, set); });
  if (s != Status::kOk) return s;
  if (found < 0) return Status::kInvalidLabels;  // policy=NAME names no policy
  *policy = uint16_t(found);
  return Status::kOk;
}

Status Ledger::find_price(std::string_view model, ModelPrice* out) const {
  bool found = false;
  Status s = read_config(*config_, [&] {
    const ModelPrice* m = find_model(models_, config_->model_count, model_index_, config_->model_index_capacity, model);
    found = m != nullptr;
    if (found) std::memcpy(static_cast<void*>(out), m, sizeof *out);
  });
  if (s != Status::kOk) return s;
  return found ? Status::kOk : Status::kUnknownModel;
}

// Computes soft thresholds for a run from its policy's permilles of the
// effective hard limit plus an optional absolute one from the caller.
void write_soft_thresholds(RunSlot& s, const Policy* p, Nanos hard, Nanos extra_soft) {
  s.client_soft.store(extra_soft >= 0 ? extra_soft : kNoLimit, std::memory_order_relaxed);
  Nanos t[kMaxSoftThresholds];
  int k = 0;
  // Equal thresholds would notify twice for one crossing: keep one of each.
  auto add = [&](Nanos v) {
    for (int i = 0; i < k; ++i)
      if (t[i] == v) return;
    if (k < kMaxSoftThresholds) t[k++] = v;
  };
  if (p && hard != kNoLimit) {
    for (uint32_t i = 0; i < p->soft_count && i < uint32_t(kMaxSoftThresholds); ++i) {
      if (p->soft_permille[i] == 0 || p->soft_permille[i] > 1000) continue;
      // hard * permille / 1000 without overflow: hard < 2^63, permille <= 1000.
      add(Nanos((__int128)hard * p->soft_permille[i] / 1000));
    }
  }
  if (extra_soft >= 0) add(extra_soft);
  for (int i = 0; i < kMaxSoftThresholds; ++i)
    s.soft_nanos[i].store(i < k ? t[i] : kNoLimit, std::memory_order_relaxed);
}

static Nanos effective_hard_at_begin(const Policy* p, Nanos requested) {
  Nanos h = p ? p->hard_nanos.load(std::memory_order_relaxed) : kNoLimit;
  if (requested >= 0 && requested < h) h = requested;
  return h;
}

// Lowers the caller-requested cap to `requested` if it is lower (CAS min).
static void lower_client_hard(RunSlot& s, Nanos requested) {
  Nanos cur = s.client_hard.load(std::memory_order_relaxed);
  while (requested < cur && !s.client_hard.compare_exchange_weak(cur, requested, std::memory_order_relaxed)) {
  }
}

static bool id_equals(const RunSlot& s, uint64_t hash, std::string_view id) {
  return s.id_hash == hash && s.id_len == id.size() && std::memcmp(s.id, id.data(), id.size()) == 0;
}

// Waits (bounded) for a slot another process is claiming to be published.
// If the claimer died mid-claim, turns the slot into a tombstone so the probe
// can move on: that never makes a slot empty, so probe chains stay intact.
// Returns the slot's new word, or nullopt-equivalent via *busy.
static uint64_t wait_for_claim(RunSlot& s, uint64_t w, bool* busy) {
  *busy = false;
  for (int spin = 0; spin < 20000; ++spin) {
    uint64_t now = s.word.load(std::memory_order_acquire);
    if (now != w) return now;
    if (spin > 100) sched_yield();
    // Check the claimer from time to time; a claim takes microseconds. By
    // pid alone: claimer_start_ticks may still be the previous claimer's,
    // and a live claimer must never lose its slot.
    if (spin % 1000 == 999) {
      if (process_liveness(word_pid(w), 0) == Liveness::kDead) {
        uint64_t tomb = pack_word(SlotState::kTombstone, word_generation(w), 0);
        s.word.compare_exchange_strong(w, tomb, std::memory_order_acq_rel);
        return s.word.load(std::memory_order_acquire);
      }
    }
  }
  *busy = true;
  return w;
}

// The attach half of begin: lowers the run's cap if asked (never raises it).
Status Ledger::attach(RunSlot& s, uint32_t idx, uint64_t w, const BeginOptions* create, RunRef* out) const {
  if (word_state(w) == SlotState::kClosed) return Status::kRunClosed;
  if (create && create->hard_nanos >= 0) {
    Nanos before = s.client_hard.load(std::memory_order_relaxed);
    lower_client_hard(s, create->hard_nanos);
    if (create->hard_nanos < before) {
      const Policy* p = policy_of(s);
      write_soft_thresholds(s, p, effective_hard_at_begin(p, create->hard_nanos), create->soft_nanos);
    }
  }
  *out = RunRef{&s, idx, word_generation(w), false};
  return Status::kOk;
}

Status Ledger::probe(std::string_view run_id, uint64_t hash, const BeginOptions* create, uint16_t policy,
                     const RunLevelsAtBegin& levels, RunRef* out) const {
  // Look the id up first, with no lease: attaching is the common case.
  const uint32_t mask = capacity_ - 1;
  uint32_t idx = uint32_t(hash) & mask;
  for (uint32_t probes = 0; probes < capacity_;) {
    RunSlot& s = slots_[idx];
    uint64_t w = s.word.load(std::memory_order_acquire);
    SlotState st = word_state(w);
    if (st == SlotState::kEmpty) break;
    if (st == SlotState::kClaiming) {
      bool busy = false;
      wait_for_claim(s, w, &busy);
      if (busy) return Status::kBusy;
      continue;  // re-examine the same slot
    }
    if ((st == SlotState::kActive || st == SlotState::kClosed) && id_equals(s, hash, run_id)) {
      if (!create) {  // find(): an ended run is still found
        *out = RunRef{&s, idx, word_generation(w), false};
        return Status::kOk;
      }
      return attach(s, idx, w, create, out);
    }
    if (st != SlotState::kActive && st != SlotState::kClosed && st != SlotState::kTombstone) return Status::kCorrupt;
    idx = (idx + 1) & mask;
    ++probes;
  }
  if (!create) return Status::kNotFound;
  CreateLease lease(leases_[hash % kCreateLeases], identity().pid);
  if (!lease.held()) return Status::kBusy;
  return create_run(run_id, hash, *create, policy, levels, out);
}

// Creates the run while holding its bucket's creation lease, so no other
// process creates the same id meanwhile. Walks the chain once more (the id
// may have been created before we took the lease), claims the first
// tombstone or the empty slot that ends the chain, fills it and publishes.
Status Ledger::create_run(std::string_view run_id, uint64_t hash, const BeginOptions& create, uint16_t policy,
                          const RunLevelsAtBegin& levels, RunRef* out) const {
  const uint32_t mask = capacity_ - 1;
  const ProcessIdentity me = identity();
  for (int restarts = 0; restarts < 16; ++restarts) {
    const uint64_t epoch = header_->recycle_epoch.load(std::memory_order_seq_cst);
    int64_t free_slot = -1;
    uint32_t idx = uint32_t(hash) & mask;
    for (uint32_t probes = 0; probes < capacity_;) {
      RunSlot& s = slots_[idx];
      uint64_t w = s.word.load(std::memory_order_acquire);
      SlotState st = word_state(w);
      if (st == SlotState::kEmpty) {
        if (free_slot < 0) free_slot = idx;
        break;
      }
      if (st == SlotState::kClaiming) {  // another bucket's creator
        bool busy = false;
        wait_for_claim(s, w, &busy);
        if (busy) return Status::kBusy;
        continue;
      }
      if ((st == SlotState::kActive || st == SlotState::kClosed) && id_equals(s, hash, run_id))
        return attach(s, idx, w, &create, out);
      if (st == SlotState::kTombstone && free_slot < 0) free_slot = idx;
      idx = (idx + 1) & mask;
      ++probes;
    }
    if (free_slot < 0) {
      header_->table_full_count.fetch_add(1, std::memory_order_relaxed);
      return Status::kTableFull;
    }
    // Claim it. A reused tombstone gets the next generation, so handles of
    // the run that had the slot before never match the new one.
    RunSlot& s = slots_[uint32_t(free_slot)];
    uint64_t w = s.word.load(std::memory_order_acquire);
    SlotState st = word_state(w);
    if (st != SlotState::kEmpty && st != SlotState::kTombstone) continue;
    uint32_t gen = word_generation(w) + (st == SlotState::kTombstone ? 1 : 0);
    uint64_t claim = pack_word(SlotState::kClaiming, gen, me.pid);
    if (!s.word.compare_exchange_strong(w, claim, std::memory_order_seq_cst)) continue;
    AB_CRASH_POINT("begin.claimed");
    fill_new_run(s, run_id, hash, create, policy, levels, me);
    AB_CRASH_POINT("begin.filled");
    // If the daemon recycled slots while we walked, a slot we passed may
    // have become empty, hiding ours: check before publishing.
    if ((epoch & 1) || header_->recycle_epoch.load(std::memory_order_seq_cst) != epoch) {
      RunRef found;
      ChainCheck c = check_chain(run_id, hash, uint32_t(free_slot), &found);
      if (c != ChainCheck::kClear) {
        uint64_t mine = claim;
        s.word.compare_exchange_strong(mine, pack_word(SlotState::kTombstone, gen, 0), std::memory_order_seq_cst);
        if (c == ChainCheck::kBusy) return Status::kBusy;
        if (c == ChainCheck::kFound)
          return attach(*found.slot, found.index, found.slot->word.load(std::memory_order_acquire), &create, out);
        continue;  // a hole before us: walk again
      }
    }
    // Publish: everything above happens-before any acquire load of kActive.
    if (!s.word.compare_exchange_strong(claim, pack_word(SlotState::kActive, gen, me.pid), std::memory_order_seq_cst))
      return Status::kBusy;  // our claim was taken (only if we looked dead): never publish over it
    *out = RunRef{&s, uint32_t(free_slot), gen, true};
    return Status::kOk;
  }
  return Status::kBusy;
}

void Ledger::fill_new_run(RunSlot& s, std::string_view run_id, uint64_t hash, const BeginOptions& create,
                          uint16_t policy, const RunLevelsAtBegin& levels, const ProcessIdentity& me) const {
  s.claimer_start_ticks.store(me.start_ticks, std::memory_order_relaxed);
  const Policy* p = policy < config_->policy_count ? &policies_[policy] : nullptr;
  std::memset(s.id, 0, sizeof s.id);
  std::memcpy(s.id, run_id.data(), run_id.size());
  s.id_hash = hash;
  s.id_len = uint32_t(run_id.size());
  s.policy = policy;
  s.begun_unix_ns = unix_ns();
  s.client_hard.store(create.hard_nanos >= 0 ? create.hard_nanos : kNoLimit, std::memory_order_relaxed);
  write_soft_thresholds(s, p, effective_hard_at_begin(p, create.hard_nanos), create.soft_nanos);
  for (auto* a : {&s.pending_events, &s.delivered_events, &s.in_flight, &s.flags, &s.last_denial})
    a->store(0, std::memory_order_relaxed);
  for (auto* a :
       {&s.closed_unix_ns, &s.first_charge_unix_ns, &s.calls, &s.last_charge_unix_ns, &s.input_tokens, &s.cached_tokens,
        &s.cache_write_tokens, &s.output_tokens, &s.reasoning_tokens, &s.loop_word, &s.hold_seq})
    a->store(0, std::memory_order_relaxed);
  for (auto* a : {&s.spent, &s.held, &s.overshoot, &s.child_spent}) a->store(0, std::memory_order_relaxed);
  s.max_calls = create.max_calls;
  s.max_in_flight = create.max_in_flight;
  s.loop_limit = create.loop_limit;
  s.max_duration_s = create.max_duration_s;
  s.max_tokens = create.max_tokens;
  for (int k = 0; k < kMaxRunPools; ++k) s.pools[k] = levels.pools[k];
  for (int k = 0; k < kMaxAncestors; ++k) {
    s.ancestor_index[k] = levels.ancestor_index[k];
    s.ancestor_generation[k] = levels.ancestor_generation[k];
  }
  s.ancestor_count = levels.ancestor_count;
}

// Adds pool `p` to the set unless present; false if the set is full.
static bool add_pool(RunLevelsAtBegin* lv, uint16_t p) {
  for (int k = 0; k < kMaxRunPools; ++k) {
    if (lv->pools[k] == p) return true;
    if (lv->pools[k] == kNoPool) {
      lv->pools[k] = p;
      return true;
    }
  }
  return false;
}

Status Ledger::levels_at_begin(uint16_t policy, std::string_view parent, RunLevelsAtBegin* out) const {
  *out = RunLevelsAtBegin{};
  Status s = read_config(*config_, [&] {
    for (int k = 0; k < kMaxRunPools; ++k) {
      uint16_t p = policies_[policy].pools[k];
      if (p != kNoPool && p < config_->pool_count) add_pool(out, p);
    }
  });
  if (s != Status::kOk) return s;
  if (parent.empty()) return Status::kOk;
  RunRef pr;
  if (Status f = find(parent, &pr); f != Status::kOk) return f == Status::kInvalidRunId ? Status::kInvalidArgument : f;
  uint64_t w = pr.slot->word.load(std::memory_order_acquire);
  if (word_state(w) != SlotState::kActive) return Status::kRunClosed;
  const RunSlot& p = *pr.slot;
  uint32_t n = p.ancestor_count <= uint32_t(kMaxAncestors) ? p.ancestor_count : 0;
  if (n == uint32_t(kMaxAncestors)) return Status::kInvalidArgument;  // nesting too deep
  out->ancestor_index[0] = pr.index;
  out->ancestor_generation[0] = pr.generation;
  for (uint32_t i = 0; i < n; ++i) {
    out->ancestor_index[i + 1] = p.ancestor_index[i];
    out->ancestor_generation[i + 1] = p.ancestor_generation[i];
  }
  out->ancestor_count = n + 1;
  // The parent's pools bind the child's spend too.
  for (int k = 0; k < kMaxRunPools; ++k)
    if (p.pools[k] != kNoPool && !add_pool(out, p.pools[k])) return Status::kInvalidArgument;
  return Status::kOk;
}

// After claiming slot `mine` for `run_id` during (or across) a recycle:
// waits for the recycle to finish, then walks the chain from the home slot
// to ours. An empty slot there means lookups would stop before reaching us
// (kHole: give the slot up and walk again); the same id in an earlier slot
// means another process created the run first (kFound: attach to it).
Ledger::ChainCheck Ledger::check_chain(std::string_view run_id, uint64_t hash, uint32_t mine, RunRef* found) const {
  for (int spin = 0; header_->recycle_epoch.load(std::memory_order_seq_cst) & 1; ++spin) {
    if (spin > 100000) return ChainCheck::kBusy;  // a daemon killed mid-recycle: its successor ends it
    sched_yield();
  }
  const uint32_t mask = capacity_ - 1;
  for (uint32_t idx = uint32_t(hash) & mask; idx != mine; idx = (idx + 1) & mask) {
    RunSlot& s = slots_[idx];
    uint64_t w = s.word.load(std::memory_order_seq_cst);
    if (word_state(w) == SlotState::kClaiming) {
      bool busy = false;
      w = wait_for_claim(s, w, &busy);
      if (busy) return ChainCheck::kBusy;
    }
    SlotState st = word_state(w);
    if (st == SlotState::kEmpty) return ChainCheck::kHole;
    if ((st == SlotState::kActive || st == SlotState::kClosed) && id_equals(s, hash, run_id)) {
      *found = RunRef{&s, idx, word_generation(w), false};
      return ChainCheck::kFound;
    }
  }
  return ChainCheck::kClear;
}

Status Ledger::begin(std::string_view run_id, const BeginOptions& opts, RunRef* out) {
  if (!valid_run_id(run_id)) return Status::kInvalidRunId;
  if (opts.soft_nanos > kNoLimit / 2) return Status::kInvalidAmount;
  if (!opts.parent.empty() && (!valid_run_id(opts.parent) || opts.parent == run_id)) return Status::kInvalidArgument;
  uint16_t policy = 0;
  Status s = resolve_policy(opts.labels, &policy);
  if (s != Status::kOk) return s;
  RunLevelsAtBegin levels;
  s = levels_at_begin(policy, opts.parent, &levels);
  if (s != Status::kOk) return s;
  return probe(run_id, run_id_hash(run_id), &opts, policy, levels, out);
}

Status Ledger::find(std::string_view run_id, RunRef* out) const {
  if (!valid_run_id(run_id)) return Status::kInvalidRunId;
  return probe(run_id, run_id_hash(run_id), nullptr, 0, RunLevelsAtBegin{}, out);
}

}  // namespace ab
