// The audit log of operator adjustments (`agentbudgetctl adjust`, the
// control socket's `reset`): one JSON object per line, appended and made
// durable before the ledger changes, so an adjustment that is not in the
// log never happened. Created mode 0640 (its folder 0750).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace ab {

// $AGENTBUDGET_AUDIT_LOG, else STATE_DIR/audit.jsonl with STATE_DIR as the
// daemon's default (default_state_dir()), so both writers share one file.
std::string default_audit_log_path();

// Appends `record` as one line and fsyncs it; false with *error if not.
bool append_audit(const std::string& path, const nlohmann::json& record, std::string* error);

}  // namespace ab
