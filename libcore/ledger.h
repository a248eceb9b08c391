// A process's view of one ledger: both segments mapped and validated.
// Opening never creates anything; only agentbudgetd creates segments.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "layout.h"
#include "process_identity.h"
#include "segment.h"
#include "status.h"

namespace ab {

// What a caller may ask for when beginning (or attaching to) a run.
struct BeginOptions {
  Nanos hard_nanos = -1;  // < 0: the policy's limit; otherwise may only lower it
  Nanos soft_nanos = -1;  // < 0: none; an extra absolute soft threshold
  // Other limits; 0 = the policy's. Each may only lower the policy's.
  uint32_t max_calls = 0, max_in_flight = 0, loop_limit = 0, max_duration_s = 0;
  uint64_t max_tokens = 0;
  std::string_view labels;  // "key=value,key=value"; "policy=NAME" selects by name
  std::string_view parent;  // run id of the parent run (must be active), empty = none
};

// The levels a new run joins: its policy's pools plus its ancestors' pools,
// and its ancestors (parent first).
struct RunLevelsAtBegin {
  uint16_t pools[kMaxRunPools] = {kNoPool, kNoPool, kNoPool, kNoPool};
  uint32_t ancestor_index[kMaxAncestors] = {};
  uint32_t ancestor_generation[kMaxAncestors] = {};
  uint32_t ancestor_count = 0;
};

// A run as seen from one process: the slot plus the generation it was begun
// under, so a recycled slot is detected instead of charged.
struct RunRef {
  RunSlot* slot = nullptr;
  uint32_t index = 0;
  uint32_t generation = 0;
  bool created = false;  // this begin created the run (false: attached)
};

// Writes a run's soft thresholds: the policy's fractions of `hard` plus the
// caller's absolute one (< 0: none), deduplicated. Used at begin and by the
// daemon when a reload changes the policy.
void write_soft_thresholds(RunSlot& s, const Policy* p, Nanos hard, Nanos extra_soft);

class Ledger {
 public:
  // Maps and validates the ledger `name`. `writable_data` is false only for
  // read-only tools (status views).
  static Status open(const std::string& name, bool writable_data, std::unique_ptr<Ledger>* out, std::string* message);
  // Validates a mapped data/config segment pair; used by open and by the
  // daemon when adopting segments it did not create in this process.
  static Status validate(const Segment& data, const Segment& config, std::string* message);

  Status begin(std::string_view run_id, const BeginOptions& opts, RunRef* out);
  // Finds an existing run, active or ended, without creating it.
  Status find(std::string_view run_id, RunRef* out) const;

  DataHeader* header() const { return header_; }
  RunSlot* slots() const { return slots_; }
  uint32_t capacity() const { return capacity_; }
  HoldSlot* holds() const { return holds_; }
  PoolSlot* pools() const { return pools_; }
  const PoolDef* pool_defs() const { return pool_defs_; }
  uint32_t pool_count() const {
    uint32_t n = config_->pool_count;
    return n <= uint32_t(kMaxPools) ? n : 0;
  }
  uint32_t hold_capacity() const { return hold_capacity_; }
  const ConfigHeader* config() const { return config_; }
  const Policy* policies() const { return policies_; }
  const ModelPrice* models() const { return models_; }
  const uint32_t* model_index() const { return model_index_; }
  const std::string& name() const { return name_; }

  // The policy a slot names, or nullptr if its index is out of range
  // (never trust a slot's bytes).
  const Policy* policy_of(const RunSlot& s) const {
    uint32_t n = config_->policy_count;
    return s.policy < n && n <= uint32_t(kMaxPolicies) ? &policies_[s.policy] : nullptr;
  }

  // Resolves the policy for `labels`; Status::kInvalidLabels on bad syntax.
  Status resolve_policy(std::string_view labels, uint16_t* policy) const;

  // Copies the price of `model` (resolving provider prefixes) under the
  // config seqlock. kUnknownModel if absent, kBusy if the daemon is rewriting.
  Status find_price(std::string_view model, ModelPrice* out) const;

  Segment& data_segment() { return data_; }
  Segment& config_segment() { return config_seg_; }

  // This process's identity, refreshed after fork.
  ProcessIdentity identity() const;

  // Internal: binds pointers to already-validated segments.
  void bind(Segment data, Segment config, std::string name);

 private:
  Status probe(std::string_view run_id, uint64_t hash, const BeginOptions* create, uint16_t policy,
               const RunLevelsAtBegin& levels, RunRef* out) const;
  Status levels_at_begin(uint16_t policy, std::string_view parent, RunLevelsAtBegin* out) const;
  Status attach(RunSlot& s, uint32_t idx, uint64_t w, const BeginOptions* create, RunRef* out) const;
  Status create_run(std::string_view run_id, uint64_t hash, const BeginOptions& create, uint16_t policy,
                    const RunLevelsAtBegin& levels, RunRef* out) const;
  void fill_new_run(RunSlot& s, std::string_view run_id, uint64_t hash, const BeginOptions& create, uint16_t policy,
                    const RunLevelsAtBegin& levels, const ProcessIdentity& me) const;
  enum class ChainCheck { kClear, kHole, kFound, kBusy };
  ChainCheck check_chain(std::string_view run_id, uint64_t hash, uint32_t mine, RunRef* found) const;

  std::string name_;
  Segment data_, config_seg_;
  DataHeader* header_ = nullptr;
  RunSlot* slots_ = nullptr;
  uint32_t capacity_ = 0;
  HoldSlot* holds_ = nullptr;
  PoolSlot* pools_ = nullptr;
  std::atomic<uint64_t>* leases_ = nullptr;
  const PoolDef* pool_defs_ = nullptr;
  uint32_t hold_capacity_ = 0;
  const ConfigHeader* config_ = nullptr;
  const Policy* policies_ = nullptr;
  const ModelPrice* models_ = nullptr;
  const uint32_t* model_index_ = nullptr;
  mutable ProcessIdentity self_;
  mutable std::atomic<uint64_t> self_fork_generation_{0};
};

}  // namespace ab
