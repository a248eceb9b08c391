// Read-only views of a ledger, straight from shared memory: `status`, `runs`.
#pragma once
#include <string>

namespace ab {

int show_status(const std::string& ledger, bool json);
int show_runs(const std::string& ledger, bool json, bool include_closed, size_t limit);

// Adjusts a run's spend by a signed USD amount and appends the adjustment
// (who, when, why, before and after) to the audit log before reporting it.
int adjust_run(const std::string& ledger, const std::string& run_id, const std::string& amount,
               const std::string& reason, const std::string& audit_log, bool json);

}  // namespace ab
