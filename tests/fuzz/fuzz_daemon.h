// A daemon for fuzz targets: in-process, on a private ledger with a small
// run table (so resetting it between inputs is cheap), removed at exit.
#pragma once
#include <memory>
#include <string>

#include "daemon.h"

namespace abfuzz {

// The one daemon of this fuzz process, started on first use.
ab::Daemon& daemon();

}  // namespace abfuzz
