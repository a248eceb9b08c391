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
  std::string prefix;              // run id prefix; default "replay-<pid>"
  bool reserve = false;            // --mode reserve: reserve the worst case, then commit
  uint32_t loop_limit = 0;         // 0: the policy's
  uint64_t max_output_tokens = 0;  // reserve mode's max_tokens; 0: the model's maximum
};

// Returns the process exit code.
int run_replay(const ReplayOptions& o);

}  // namespace ab
