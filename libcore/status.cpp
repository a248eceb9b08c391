#include "status.h"

namespace ab {

const char* status_name(Status s) {
  switch (s) {
    case Status::kOk: return "AB_OK";
    case Status::kDenied: return "AB_DENIED";
    case Status::kInvalidArgument: return "AB_ERR_INVALID_ARGUMENT";
    case Status::kInvalidRunId: return "AB_ERR_INVALID_RUN_ID";
    case Status::kInvalidAmount: return "AB_ERR_INVALID_AMOUNT";
    case Status::kNoLedger: return "AB_ERR_NO_LEDGER";
    case Status::kPermission: return "AB_ERR_PERMISSION";
    case Status::kIncompatible: return "AB_ERR_INCOMPATIBLE";
    case Status::kCorrupt: return "AB_ERR_CORRUPT";
    case Status::kNotReady: return "AB_ERR_NOT_READY";
    case Status::kTableFull: return "AB_ERR_TABLE_FULL";
    case Status::kBusy: return "AB_ERR_BUSY";
    case Status::kStaleHandle: return "AB_ERR_STALE_HANDLE";
    case Status::kRunClosed: return "AB_ERR_RUN_CLOSED";
    case Status::kUnknownModel: return "AB_ERR_UNKNOWN_MODEL";
    case Status::kInvalidUsage: return "AB_ERR_INVALID_USAGE";
    case Status::kOverflow: return "AB_ERR_OVERFLOW";
    case Status::kInvalidLabels: return "AB_ERR_INVALID_LABELS";
    case Status::kSystem: return "AB_ERR_SYSTEM";
    case Status::kNotFound: return "AB_ERR_NOT_FOUND";
  }
  return "AB_ERR_UNKNOWN";
}

const char* status_message(Status s) {
  switch (s) {
    case Status::kOk: return "success";
    case Status::kDenied: return "denied by a budget limit";
    case Status::kInvalidArgument: return "invalid argument (NULL pointer, bad size or flag)";
    case Status::kInvalidRunId: return "invalid run id (1-127 printable ASCII bytes, no spaces)";
    case Status::kInvalidAmount: return "invalid amount (negative, NaN, infinite or too large)";
    case Status::kNoLedger: return "no ledger: agentbudgetd has not created it (is the daemon running?)";
    case Status::kPermission: return "permission denied opening the ledger (is this user in the agentbudget group?)";
    case Status::kIncompatible: return "ledger layout is incompatible with this library version";
    case Status::kCorrupt: return "ledger segment failed validation";
    case Status::kNotReady: return "ledger is still being initialised by the daemon";
    case Status::kTableFull: return "run table is full";
    case Status::kBusy: return "resource held by a live process; try again";
    case Status::kStaleHandle: return "stale run handle: the run's slot was recycled";
    case Status::kRunClosed: return "run has ended";
    case Status::kUnknownModel: return "model not in the price table and the policy denies unpriced models";
    case Status::kInvalidUsage: return "invalid token usage (inconsistent or overflowing counts)";
    case Status::kOverflow: return "counter would overflow";
    case Status::kInvalidLabels: return "invalid labels (expected key=value[,key=value...])";
    case Status::kSystem: return "operating system error";
    case Status::kNotFound: return "no run with this id";
  }
  return "unknown status code";
}

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::kNone: return "none";
    case Reason::kRunHard: return "run_hard_limit";
    case Reason::kPool: return "pool_hard_limit";
    case Reason::kCalls: return "max_calls";
    case Reason::kTokens: return "max_tokens";
    case Reason::kDuration: return "max_duration";
    case Reason::kConcurrency: return "max_in_flight";
    case Reason::kLoop: return "loop_detected";
    case Reason::kClosed: return "run_closed";
    case Reason::kUnpriced: return "unpriced_model";
    case Reason::kParent: return "parent_hard_limit";
  }
  return "unknown";
}

}  // namespace ab
