// Read-only views of a ledger, straight from shared memory: `status`, `runs`.
#pragma once
#include <string>

namespace ab {

int show_status(const std::string& ledger, bool json);
int show_runs(const std::string& ledger, bool json, bool include_closed, size_t limit);

}  // namespace ab
