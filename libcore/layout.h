// The shared-memory layout of the ledger: fixed, plain data, versioned.
//
// Two POSIX shared-memory objects per ledger NAME:
//   /NAME.v<major>         the data segment: header + run table. Clients map
//                          it read-write (mode 0660, clients' group).
//   /NAME.v<major>.config  the config segment: policies and prices. Clients
//                          map it READ-ONLY (mode 0640), so a client bug can
//                          never raise an operator's limit.
// Only the daemon creates either (O_EXCL) and only the daemon writes the
// config segment. Every offset or index read from a segment is
// bounds-checked before use: the segment is untrusted input.
//
// Rules: no pointers (offsets only), no Boost or std synchronisation objects,
// only 4- and 8-byte lock-free atomics. Any change to a struct changes
// kLayoutFingerprint; an incompatible change bumps kLayoutMajor, which is
// part of the segment name.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "model_price.h"
#include "money.h"

namespace ab {

inline constexpr uint64_t kDataMagic = 0x3147444255424741ULL;    // "AGBUDG1" LE + '1'
inline constexpr uint64_t kConfigMagic = 0x3146434255424741ULL;  // "AGBUCF1"
inline constexpr uint32_t kLayoutMajor = 1;
inline constexpr uint32_t kLayoutMinor = 2;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kRunIdMax = 127;
inline constexpr uint32_t kDefaultRunCapacity = 65536;
inline constexpr uint32_t kMaxRunCapacity = 1u << 24;  // generation/slot packing
inline constexpr int kMaxSoftThresholds = 4;
inline constexpr int kMaxPolicies = 64;
inline constexpr int kMaxPolicyMatches = 4;
inline constexpr int kMaxModels = 4096;
inline constexpr int kMaxPools = 64;
inline constexpr int kMaxRunPools = 4;         // pools one run belongs to
inline constexpr int kMaxAncestors = 3;        // parent, grandparent, great-grandparent
inline constexpr int kPeriodBoundaries = 512;  // calendar period starts published ahead
inline constexpr uint16_t kNoPool = 0xFFFF;
// Creation leases: one word per bucket of run-id hashes. A process creating
// a run holds its bucket's lease (CAS 0 -> its pid; a dead holder's lease is
// taken over), so two processes never create the same id at once, and a
// creator may reuse a tombstone instead of needing an empty slot.
inline constexpr uint32_t kCreateLeases = 4096;

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<int64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// ---------------------------------------------------------------------------
// Data segment header.
// Written by the daemon only. Fields above `heartbeat_ns` are written once
// before `ready` and never change; `ready` is stored last with release order,
// and clients load it with acquire before trusting anything else.
struct alignas(kCacheLine) DataHeader {
  uint64_t magic;
  uint32_t layout_major;
  uint32_t layout_minor;
  uint64_t fingerprint;
  uint64_t segment_size;  // bytes, whole object
  uint32_t run_capacity;  // power of two
  uint32_t hold_capacity;
  uint64_t runs_offset;  // byte offset of RunSlot[run_capacity]
  uint64_t created_unix_ns;
  uint64_t holds_offset;  // byte offset of HoldSlot[hold_capacity]
  // PoolSlot[kMaxPools] follows the holds, then the creation leases
  // (std::atomic<uint64_t>[kCreateLeases]); offsets computed, not stored.

  // Daemon liveness, written by the daemon every tick (relaxed).
  alignas(kCacheLine) std::atomic<uint64_t> heartbeat_unix_ns;
  std::atomic<uint32_t> daemon_pid;
  std::atomic<uint32_t> daemon_epoch;  // incremented at each daemon start or adoption

  // Bumped (relaxed fetch_add) by any client that marks an event, so the
  // daemon can skip scanning when nothing happened. Only a hint.
  alignas(kCacheLine) std::atomic<uint64_t> event_hint;
  // Runs whose begin found the table full (for metrics and logs).
  std::atomic<uint64_t> table_full_count;
  // Odd while the daemon recycles slots (turns chain-end tombstones back
  // into empty slots). A begin that overlapped a recycle re-checks that its
  // id is not already in an earlier slot of its probe chain.
  std::atomic<uint64_t> recycle_epoch;

  // 0 until the segment is fully initialised, then kDataMagic's low word.
  alignas(kCacheLine) std::atomic<uint32_t> ready;
};

// ---------------------------------------------------------------------------
// Run slot. The run table is open addressing with linear probing, keyed by
// the run id's 64-bit hash.
//
// `word` packs state (8 bits) | generation (24 bits) | claimer pid (32 bits).
// State machine (every transition is a CAS on `word`):
//   kEmpty    --client CAS-->  kClaiming   (generation kept, pid = claimer)
//   kClaiming --claimer-->     kActive     (release store after identity fields)
//   kClaiming --anyone, when the claimer is dead--> kTombstone
//   kActive   --ab_run_end-->  kClosed
//   kClosed   --daemon, after archiving and a grace period--> kTombstone
//   kTombstone --daemon, only at the end of a probe chain--> kEmpty (generation+1)
// A probe chain ends at the first kEmpty slot; kClaiming, kActive, kClosed
// and kTombstone slots are passed over. Clients only ever turn kEmpty into
// kClaiming and never make a slot kEmpty again, so two processes beginning
// the same id walk the same chain and meet at the same slot. Only while the
// daemon recycles (DataHeader::recycle_epoch odd) can a slot become empty,
// and never one inside the walk of a published or claimed slot. A begin
// whose walk overlapped a recycle checks, after claiming and before
// publishing, the slots from its home to its own: an empty one (a hole that
// would hide it) makes it give its slot up and walk again; the same id in an
// earlier slot makes it give its slot up and attach. So ids stay unique.
//
// Identity fields (id, id_hash, id_len, policy, begun_unix_ns,
// claimer_start_ticks) are written by the claimer while kClaiming and are
// read-only once kActive is published (release/acquire on `word`).
//
// The hot line (spent ... reasoning_tokens) is written by every charge with
// relaxed RMWs: each counter is exact on its own (fetch_add never loses an
// update); readers may see a counter set from slightly different instants.
enum class SlotState : uint8_t { kEmpty = 0, kClaiming = 1, kActive = 2, kClosed = 3, kTombstone = 4 };

inline constexpr uint64_t pack_word(SlotState s, uint32_t gen, uint32_t pid) {
  return (uint64_t(s) << 56) | (uint64_t(gen & 0xFFFFFFu) << 32) | pid;
}
inline constexpr SlotState word_state(uint64_t w) { return SlotState(w >> 56); }
inline constexpr uint32_t word_generation(uint64_t w) { return uint32_t(w >> 32) & 0xFFFFFFu; }
inline constexpr uint32_t word_pid(uint64_t w) { return uint32_t(w); }

// Event bits, set with fetch_or by the one charge that crosses the line.
enum RunFlag : uint32_t {
  kRunLooped = 1u << 0,  // the loop guard denied a call
};

enum EventBit : uint32_t {
  kEventSoft0 = 1u << 0,  // soft threshold k is bit k (k < kMaxSoftThresholds)
  kEventHard = 1u << 8,
  kEventUnpriced = 1u << 9,
  kEventClosed = 1u << 10,
  kEventLoop = 1u << 11,
  kEventDenied = 1u << 12,    // the run's first denied call (last_denial says why)
  kEventForecast = 1u << 13,  // forecast_over_budget; set by the daemon only (daemon/forecaster.h)
};
inline constexpr uint32_t soft_event_bit(int k) { return kEventSoft0 << k; }

struct alignas(kCacheLine) RunSlot {
  // Line 0: identity and limits (read on every charge, written rarely).
  std::atomic<uint64_t> word;
  uint64_t id_hash;
  uint32_t id_len;
  uint16_t policy;  // index into ConfigHeader policies
  uint16_t reserved0;
  std::atomic<uint64_t> claimer_start_ticks;  // claimer start time, 0 until written
  uint64_t begun_unix_ns;
  std::atomic<int64_t> client_hard;        // caller-requested cap; only ever lowered (CAS min)
  std::atomic<uint32_t> pending_events;    // EventBit set by clients (fetch_or)
  std::atomic<uint32_t> delivered_events;  // EventBit the daemon has delivered (daemon only)
  std::atomic<uint64_t> closed_unix_ns;

  // Lines 1-2: the id, NUL-terminated.
  alignas(kCacheLine) char id[kRunIdMax + 1];

  // Line 3: soft thresholds in absolute nano-USD (kNoLimit = unused), written
  // at begin from the policy and the effective hard limit.
  alignas(kCacheLine) std::atomic<int64_t> soft_nanos[kMaxSoftThresholds];
  std::atomic<uint64_t> first_charge_unix_ns;  // CAS from 0 by the first charge
  // The caller's own absolute soft threshold (kNoLimit = none), kept so the
  // daemon can recompute soft_nanos when a reload changes the policy.
  std::atomic<int64_t> client_soft;
  uint64_t reserved1[2];

  // Line 4: hot counters, written by every charge.
  alignas(kCacheLine) std::atomic<int64_t> spent;
  std::atomic<uint64_t> calls;
  std::atomic<uint64_t> last_charge_unix_ns;  // relaxed store, last writer wins
  std::atomic<uint64_t> input_tokens;
  std::atomic<uint64_t> cached_tokens;
  std::atomic<uint64_t> cache_write_tokens;
  std::atomic<uint64_t> output_tokens;
  std::atomic<uint64_t> reasoning_tokens;

  // Line 5: admission state, written by reservations (CAS) and releases.
  alignas(kCacheLine) std::atomic<int64_t> held;  // sum of ACTIVE holds' estimates
  std::atomic<uint32_t> in_flight;                // holds outstanding
  std::atomic<uint32_t> flags;                    // RunFlag bits
  std::atomic<uint64_t> loop_word;                // fingerprint (48 bits) | repeat count (16 bits)
  std::atomic<uint64_t> hold_seq;                 // bumped by every hold transition on this run
  std::atomic<int64_t> overshoot;                 // sum of commits' excess over their estimates
  // Per-run overrides chosen at begin (0 = the policy's); may only lower it.
  uint32_t max_calls;
  uint32_t max_in_flight;
  uint32_t loop_limit;
  uint32_t max_duration_s;
  uint64_t max_tokens;

  // Line 6: the levels above this run, fixed at begin. Every charge and
  // hold of this run also applies to its ancestors and its pools.
  alignas(kCacheLine) std::atomic<int64_t> child_spent;  // sum of descendants' spent (an aggregate)
  uint16_t pools[kMaxRunPools];                          // pool indices, kNoPool = unused
  uint32_t ancestor_index[kMaxAncestors];                // parent first
  uint32_t ancestor_generation[kMaxAncestors];
  uint32_t ancestor_count;
  std::atomic<uint32_t> last_denial;  // Reason (low 16 bits) | pool index + 1 (high 16 bits)
};
static_assert(sizeof(RunSlot) == 7 * kCacheLine);
static_assert(offsetof(RunSlot, id) == 64);
static_assert(offsetof(RunSlot, soft_nanos) == 192);
static_assert(offsetof(RunSlot, spent) == 256);
static_assert(sizeof(DataHeader) == 4 * kCacheLine);

// ---------------------------------------------------------------------------
// Pool slot: the live counters of one pool (its definition is a PoolDef in
// the config segment, same index).
//
// `total_spent` is cumulative over the pool's life; the spend of the current
// period is total_spent - period_base. Both total_spent and held are
// aggregates: the sum over member runs' spent and over ACTIVE holds of
// member runs. The daemon recomputes them if a process died between a
// run's update and the pool's (see daemon/hold_reaper.h).
// Period rollover: the first process to see a new period CASes period_tag,
// then stores period_base (the total at that moment) and base_tag last.
// Until base_tag matches period_tag, readers use the previous base (the
// period looks fuller than it is: a denial, never an overshoot).
// `events` packs the period tag (high 16 bits) and EventBit bits set in
// that period, so each threshold notifies once per period.
struct alignas(kCacheLine) PoolSlot {
  std::atomic<int64_t> total_spent;
  std::atomic<int64_t> held;
  std::atomic<uint64_t> op_seq;         // bumped at the start of every operation on the pool
  std::atomic<uint64_t> events;         // period tag << 48 | EventBit
  std::atomic<uint64_t> delivered;      // same shape; written by the daemon only
  std::atomic<int64_t> archived_spent;  // spent of member runs whose slots were recycled (daemon only)
  uint64_t reserved0[2];

  alignas(kCacheLine) std::atomic<uint64_t> period_tag;  // current period number
  std::atomic<int64_t> period_base;                      // total_spent when the current period began
  std::atomic<uint64_t> base_tag;                        // the period period_base belongs to
  std::atomic<int64_t> previous_spent;                   // spend of the period before (history)
  std::atomic<uint64_t> previous_tag;
  uint64_t reserved1[3];
};
static_assert(sizeof(PoolSlot) == 2 * kCacheLine);

// ---------------------------------------------------------------------------
// Hold slot: one reservation (reserve -> commit | release).
//
// `word` packs state (8) | generation (24) | owner pid (32), like RunSlot.
// States and their writers (every transition is a CAS on `word`):
//   kHoldFree       --reserver-->            kHoldReserving
//   kHoldReserving  --reserver, granted-->   kHoldActive
//   kHoldReserving  --reserver, denied-->    kHoldFree (generation+1)
//   kHoldActive     --owner commit-->        kHoldCommitting --owner--> kHoldFree
//   kHoldActive     --owner release-->       kHoldReleasing  --owner--> kHoldFree
//   kHoldActive     --daemon, owner dead--> kHoldReleasing (pid = daemon) --> kHoldFree
//   kHoldActive     --daemon, lease over--> kHoldReleasing --> kHoldExpired --owner commit/release--> kHoldFree
//   any transitional state whose owner died --daemon repair--> kHoldFree
// The fields below `word` are written by the owner while it holds the slot
// in kHoldReserving and are read-only afterwards. `stage` records how far a
// transition got (StageBit), so the daemon can repair one interrupted by a
// SIGKILL: counters it cannot tell apart are recomputed from the ACTIVE
// holds while no live process is changing them.
// kCharging marks a plain charge in progress on a run with pools or
// ancestors: the slot is then only the operation's record, so the daemon can
// tell a charge interrupted between levels from one still running.
enum class HoldState : uint8_t {
  kFree = 0,
  kReserving = 1,
  kActive = 2,
  kCommitting = 3,
  kReleasing = 4,
  kCharging = 5,
  // Released by the daemon because its lease ran out, while its owner lives:
  // kept (same generation) so the owner's late commit is still recorded,
  // once; freed by the owner's commit or release, or by the daemon after
  // another lease.
  kExpired = 6
};

enum StageBit : uint32_t {
  kStageCalls = 1u << 0,     // run.calls incremented
  kStageInFlight = 1u << 1,  // run.in_flight incremented
  kStageHeld = 1u << 2,      // run.held incremented
  kStageSpent = 1u << 3,     // commit: run.spent incremented
};

// The owner writes the fields below `word` right after claiming the slot,
// while the daemon may already be reading them (it scans every slot that is
// not free), so they are atomics too: relaxed, a stale value is harmless
// (the daemon only acts on a slot whose state says it is settled or dead).
struct alignas(kCacheLine) HoldSlot {
  std::atomic<uint64_t> word;
  std::atomic<uint64_t> owner_start_ticks;
  std::atomic<uint32_t> run_index;
  std::atomic<uint32_t> run_generation;
  std::atomic<int64_t> estimate;
  std::atomic<int64_t> actual;  // set before kHoldCommitting's run updates
  std::atomic<uint64_t> created_unix_ns;
  std::atomic<uint64_t> fingerprint;
  std::atomic<uint32_t> stage;  // StageBit progress of the current transition
  uint32_t reserved0;
};
static_assert(sizeof(HoldSlot) == kCacheLine);

inline constexpr uint64_t pack_hold(HoldState s, uint32_t gen, uint32_t pid) {
  return (uint64_t(s) << 56) | (uint64_t(gen & 0xFFFFFFu) << 32) | pid;
}
inline constexpr HoldState hold_state(uint64_t w) { return HoldState(w >> 56); }

// ---------------------------------------------------------------------------
// Config segment: written only by the daemon, mapped read-only by clients.
// `seq` is a seqlock: the daemon makes it odd, rewrites, makes it even;
// a reader copies what it needs and retries (bounded) if seq changed or was
// odd. Single 8-byte fields that bind at once (policy hard limits) are
// atomics and may be read without the seqlock.

// Policy actions for a model missing from the price table.
enum class UnknownModel : uint32_t { kDeny = 0, kFallback = 1 };

struct PolicyMatch {
  char key[32];    // label key, e.g. "agent", "team", "task"
  char value[64];  // exact value, or "*" for any
};

struct alignas(kCacheLine) Policy {
  char name[64];
  std::atomic<int64_t> hard_nanos;             // kNoLimit = none
  uint32_t soft_permille[kMaxSoftThresholds];  // of the hard limit; 0 = unused
  uint32_t soft_count;
  UnknownModel unknown_model;
  Femtos fallback_input;  // per-token rates used for unpriced models
  Femtos fallback_output;
  uint32_t match_count;    // all matches must hold; 0 = matches anything
  uint32_t max_in_flight;  // 0 = unlimited
  PolicyMatch matches[kMaxPolicyMatches];
  uint64_t max_calls;       // 0 = unlimited
  uint64_t max_tokens;      // all token kinds; 0 = unlimited
  uint64_t max_duration_s;  // since the run began; 0 = unlimited
  uint64_t hold_lease_s;    // holds older than this are reclaimed; 0 = never
  uint32_t loop_limit;      // deny the call that makes N identical fingerprints in a row; 0 = off
  // 1 = removed from the configuration: kept (same index) for the runs that
  // use it, never chosen for a new run.
  uint32_t retired;
  uint16_t pools[kMaxRunPools];  // pools of this policy's runs, kNoPool = unused
};

// How a pool's periods are cut.
enum class PeriodKind : uint32_t { kNone = 0, kRolling = 1, kCalendar = 2 };

// A pool's definition, written by the daemon. For calendar periods (day,
// week, month in a time zone) the daemon publishes the next period starts
// as unix seconds, so clients find the current period with no time-zone
// code: period number = first_period + the index of the last start <= now.
struct alignas(kCacheLine) PoolDef {
  char name[64];
  std::atomic<int64_t> hard_nanos;  // kNoLimit = none
  uint32_t soft_permille[kMaxSoftThresholds];
  uint32_t soft_count;
  PeriodKind period;
  uint64_t rolling_s;                 // kRolling: period length
  int64_t anchor_unix_s;              // kRolling: start of period 0
  uint64_t first_period;              // kCalendar: number of the period starting at starts[0]
  uint32_t start_count;               // kCalendar: valid entries of starts
  uint32_t retired;                   // 1 = removed from the configuration, kept for its runs
  int64_t starts[kPeriodBoundaries];  // kCalendar: ascending unix seconds
};

struct alignas(kCacheLine) ConfigHeader {
  uint64_t magic;
  uint32_t layout_major;
  uint32_t layout_minor;
  uint64_t fingerprint;
  uint64_t segment_size;
  uint64_t policies_offset;       // Policy[kMaxPolicies]
  uint64_t models_offset;         // ModelPrice[kMaxModels]
  uint64_t model_index_offset;    // uint32_t[model_index_capacity]: model index + 1, 0 = empty
  uint64_t pools_offset;          // PoolDef[kMaxPools]
  uint32_t model_index_capacity;  // power of two
  uint32_t reserved0;

  alignas(kCacheLine) std::atomic<uint64_t> seq;  // seqlock, even = stable
  uint32_t policy_count;                          // 1..kMaxPolicies; policy 0 is the default
  uint32_t model_count;                           // 0..kMaxModels
  uint32_t pool_count;                            // 0..kMaxPools
  uint64_t config_version;                        // bumped by each applied configuration

  alignas(kCacheLine) std::atomic<uint32_t> ready;
};

constexpr uint64_t fnv1a(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xFF;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Fingerprint of struct sizes and key offsets: a reader built from other
// headers refuses the segment instead of misreading it.
inline constexpr uint64_t kLayoutFingerprint = [] {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint64_t v :
       {uint64_t(sizeof(DataHeader)), uint64_t(sizeof(RunSlot)), uint64_t(offsetof(RunSlot, spent)),
        uint64_t(offsetof(RunSlot, soft_nanos)), uint64_t(offsetof(DataHeader, ready)), uint64_t(sizeof(ConfigHeader)),
        uint64_t(sizeof(Policy)), uint64_t(sizeof(ModelPrice)), uint64_t(sizeof(HoldSlot)),
        uint64_t(offsetof(RunSlot, held)), uint64_t(offsetof(DataHeader, holds_offset)), uint64_t(sizeof(PoolSlot)),
        uint64_t(sizeof(PoolDef)), uint64_t(offsetof(RunSlot, child_spent)), uint64_t(kMaxPolicies),
        uint64_t(kMaxModels), uint64_t(kRunIdMax), uint64_t(kLayoutMajor), uint64_t(kLayoutMinor)})
    h = fnv1a(h, v);
  return h;
}();

// Sizes of the two segments for a given capacity.
uint64_t data_segment_size(uint32_t run_capacity, uint32_t hold_capacity);
uint64_t config_segment_size(uint32_t model_index_capacity);
inline constexpr uint32_t kModelIndexCapacity = 8192;  // 2x kMaxModels

}  // namespace ab
