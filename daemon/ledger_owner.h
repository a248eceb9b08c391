// The daemon's side of the ledger: creating or adopting the two segments and
// writing policies and prices into the config segment.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "ledger.h"

namespace ab {

// kRestored: created, then filled from the snapshot file (after a reboot).
enum class OwnOutcome { kCreated, kAdopted, kRestored };

struct OwnResult {
  Status status = Status::kOk;
  OwnOutcome outcome = OwnOutcome::kCreated;
  std::string message;
};

// Creates the ledger named in `cfg`, or adopts a valid live one (clients kept
// charging while no daemon ran: nothing is reset). A segment left half
// initialised by a daemon that died (ready == 0) is removed and recreated:
// no client can have used it. A segment of another layout or a corrupt one
// is refused with a clear message, never silently purged.
// `models` go into the config segment (at most kMaxModels).
// `on_create` runs only when a fresh ledger is created, before its ready
// word is published (no client can see it yet): the daemon restores its
// snapshot there and sets *restored. If it returns false (with a message)
// the new segments are removed and own_ledger fails with that message.
using OnCreate = std::function<bool(Ledger& fresh, bool* restored, std::string* message)>;
OwnResult own_ledger(const DaemonConfig& cfg, const std::vector<ModelPrice>& models, std::unique_ptr<Ledger>* out,
                     const OnCreate& on_create = {});

// Rewrites policies and prices in the config segment under its seqlock.
// Existing runs see new policy limits at once.
void write_config_segment(ConfigHeader* c, const DaemonConfig& cfg, const std::vector<ModelPrice>& models);

// True when a calendar pool's published period starts are running out.
bool pool_periods_need_refresh(const ConfigHeader* c, int64_t now_unix_s);

// Removes both segments of `ledger` (operator action; tests).
// True if at least one segment existed. The lock file stays: unlinking it
// would let two daemons lock two different files of the same name.
bool remove_ledger(const std::string& ledger);

}  // namespace ab
