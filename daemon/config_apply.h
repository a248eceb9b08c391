// Applying a configuration to a ledger that already has runs (adopt after a
// restart, live reload). Run slots refer to policies and pools by index, so
// an applied configuration must keep every existing name at its index:
// entries are reordered, new ones appended, removed ones kept as retired.
#pragma once
#include <string>
#include <vector>

#include "config.h"
#include "layout.h"

namespace ab {

// Reorders next->policies and next->pools so that every name the segment
// already holds keeps its index, appending new names and keeping removed
// ones as retired entries. Returns false (with *error) when the result no
// longer fits the segment's tables.
bool keep_indexes(const ConfigHeader& seg, DaemonConfig* next, std::string* error);

// Settings a running daemon cannot change (they shape its segment, files or
// sockets): one line per difference, empty if none.
std::vector<std::string> restart_only_changes(const DaemonConfig& running, const DaemonConfig& next);

}  // namespace ab
