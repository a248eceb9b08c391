// `agentbudgetctl replay`: real agent runs from traces, charged through the
// live ledger from several worker processes.
#pragma once
#include <string>

#include "money.h"

namespace ab {

struct ReplayOptions {
  std::string traces;
  std::string ledger;  // empty: $AGENTBUDGET_LEDGER or "agentbudget"
  Nanos budget = -1;   // per-run hard cap; < 0: policy's
  Nanos soft = -1;     // per-run soft threshold; < 0: none
  int workers = 0;     // 0: number of cores
  bool json = false;
  bool quiet = false;  // no per-run lines
  std::string labels;
  std::string prefix;  // run id prefix; default "replay-<pid>"
};

// Returns the process exit code.
int run_replay(const ReplayOptions& o);

}  // namespace ab
