// Ledger persistence: the durable state of a ledger (runs and pools) in a
// snapshot file, so a reboot (which loses /dev/shm) loses at most one
// snapshot interval. See DESIGN.md "Crash safety".
//
// File: 8-byte magic, u32 payload length, u32 CRC-32 of the payload (both
// host order: the file never leaves its host), then a cereal binary payload
// of versioned classes. Written to FILE.tmp, fsynced, renamed over FILE and
// the folder fsynced: a writer killed at any point leaves the old file or
// the new one, never a mix. Reading treats the file as untrusted input.
//
// What is kept: every active or closed run with its counters and event bits
// (so exactly-once notification survives a reboot), policies and pools by
// NAME (the configuration may change between daemons), ancestors by run id;
// every pool's totals and period state. Holds are not kept: their processes
// died with the host, so held and in_flight restart at 0.
#pragma once
#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ledger.h"

namespace ab {

// Bump when the payload changes; the reader accepts every version up to
// this one (older fields are read by version, see snapshot.cpp).
inline constexpr uint32_t kSnapshotFormat = 1;
inline constexpr char kSnapshotMagic[8] = {'A', 'B', 'S', 'N', 'A', 'P', '\r', '\n'};
inline constexpr size_t kSnapshotHeaderBytes = 16;  // magic, length, CRC

struct SnapshotRun {
  std::string id;
  std::string policy;  // by name; an unknown name restores under the default policy
  uint8_t closed = 0;  // 0 = active, 1 = closed
  uint64_t begun_unix_ns = 0, closed_unix_ns = 0;
  int64_t client_hard = kNoLimit;
  int64_t client_soft = kNoLimit;  // the caller's absolute soft threshold
  std::array<int64_t, kMaxSoftThresholds> soft_nanos{};
  uint32_t max_calls = 0, max_in_flight = 0, loop_limit = 0, max_duration_s = 0;
  uint64_t max_tokens = 0;
  int64_t spent = 0, overshoot = 0, child_spent = 0;
  uint64_t calls = 0, input_tokens = 0, cached_tokens = 0, cache_write_tokens = 0, output_tokens = 0,
           reasoning_tokens = 0;
  uint64_t first_charge_unix_ns = 0, last_charge_unix_ns = 0;
  uint32_t flags = 0, pending_events = 0, delivered_events = 0;
  uint32_t last_denial = 0;      // Reason
  std::string last_denial_pool;  // for Reason::kPool: the pool's name
  uint64_t loop_word = 0;
  std::vector<std::string> pools;      // pool names
  std::vector<std::string> ancestors;  // run ids, parent first
};

struct SnapshotPool {
  std::string name;
  uint32_t period_kind = 0;  // PeriodKind when written
  uint64_t rolling_s = 0;
  int64_t total_spent = 0, archived_spent = 0;
  uint64_t period_tag = 0, base_tag = 0, previous_tag = 0;
  int64_t period_base = 0, previous_spent = 0;
  uint64_t events = 0, delivered = 0;
};

struct Snapshot {
  uint32_t format = kSnapshotFormat;
  std::string ledger;
  uint32_t layout_major = kLayoutMajor, layout_minor = kLayoutMinor;
  uint64_t written_unix_ns = 0;
  std::vector<SnapshotRun> runs;
  std::vector<SnapshotPool> pools;
};

// Copies the durable state of `l`. Call it from the daemon's thread (the
// slot recycler must not run meanwhile). Runs are read before pools, so a
// charge landing during the copy makes a pool look fuller than its runs
// (a denial after restore, never an overshoot).
Snapshot capture_snapshot(const Ledger& l);

// The whole file: header and payload.
std::string encode_snapshot(const Snapshot& s);
// Parses and validates file bytes; never throws, never trusts them. On
// failure returns false and says what is wrong (without the file name).
bool decode_snapshot(std::string_view bytes, Snapshot* out, std::string* error);

// Writes `bytes` to `path` atomically (see above), creating the folder
// (mode 0750) if missing. False with a message naming the file on failure.
bool write_file_atomically(const std::string& path, std::string_view bytes, std::string* error);

enum class SnapshotRead { kOk, kMissing, kBad };
// Reads and decodes `path`; kBad with "snapshot PATH: what is wrong".
SnapshotRead read_snapshot_file(const std::string& path, Snapshot* out, std::string* error);

struct RestoreStats {
  size_t runs = 0, pools = 0;
  size_t unknown_policies = 0;   // runs put under the default policy
  size_t dropped_pools = 0;      // pool names no longer configured
  size_t dropped_ancestors = 0;  // ancestors not in the snapshot
};

// Re-creates the snapshot's runs and pools in a FRESH ledger that no client
// can see yet (its ready word not published). Runs go where a client's
// begin would put them (first empty slot of the id's probe chain), parents
// before children. False with a message if they do not fit.
bool restore_snapshot(Ledger& fresh, const Snapshot& s, RestoreStats* stats, std::string* error);

// The daemon's start-up step for a freshly created ledger: restores `path`
// if it exists. A bad file refuses the start (false, with what the operator
// can do) unless `discard`: then it is renamed PATH.corrupt-<unix time> and
// the ledger starts empty. Sets *restored when runs or pools came back.
bool restore_from_file(Ledger& fresh, const std::string& path, bool discard, bool* restored, std::string* message);

// Counters for metrics and logs.
struct SnapshotStats {
  uint64_t written = 0;    // files published
  uint64_t unchanged = 0;  // writes skipped: same content as the file
  uint64_t failed = 0;
  uint64_t last_capture_ns = 0;  // copying the ledger (daemon thread)
  uint64_t last_write_ns = 0;    // encoding, writing, fsync, rename (writer thread)
  uint64_t last_written_unix_ns = 0;
  uint64_t last_bytes = 0;
  uint64_t last_runs = 0;
  std::string last_error;  // empty once a write succeeds again
};

// Writes snapshots of one file from a thread of its own, so the fsync never
// delays the daemon's tick. One snapshot at most is queued: a newer one
// replaces it.
class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::string path);
  ~SnapshotWriter();  // writes what is queued, then stops
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  const std::string& path() const { return path_; }
  // Queues `s` for the writer thread.
  void submit(Snapshot s, uint64_t capture_ns);
  // Writes `s` in the caller's thread once the writer is idle.
  bool write_now(Snapshot s, uint64_t capture_ns, std::string* error);
  // A snapshot is queued or being written.
  bool busy() const;
  SnapshotStats stats() const;

 private:
  void loop();
  bool write(Snapshot s, uint64_t capture_ns, std::string* error);  // holds write_mu_

  std::string path_;
  mutable std::mutex mu_;  // queue_, writing_, stop_, stats_
  std::condition_variable cv_;
  std::optional<std::pair<Snapshot, uint64_t>> queue_;
  bool writing_ = false, stop_ = false;
  SnapshotStats stats_;
  std::mutex write_mu_;  // one write at a time
  size_t last_body_hash_ = 0;
  bool have_body_hash_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace ab
