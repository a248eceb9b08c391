// Result codes shared by libcore and the C ABI. The numeric values are
// pinned: capi/agentbudget.h repeats them and static_asserts equality.
#pragma once

namespace ab {

enum class Status : int {
  kOk = 0,
  kDenied = 1,            // admission refused; see the reason
  kInvalidArgument = -1,  // NULL pointer, bad struct size, bad flag
  kInvalidRunId = -2,
  kInvalidAmount = -3,  // negative, NaN, infinite or too large
  kNoLedger = -4,       // segment does not exist: daemon never started
  kPermission = -5,
  kIncompatible = -6,  // other layout version or fingerprint
  kCorrupt = -7,       // segment fails validation
  kNotReady = -8,      // segment exists but is still being initialised
  kTableFull = -9,
  kBusy = -10,         // a live process holds what we need past the wait bound
  kStaleHandle = -11,  // the run's slot was recycled
  kRunClosed = -12,
  kUnknownModel = -13,
  kInvalidUsage = -14,
  kOverflow = -15,
  kInvalidLabels = -16,
  kSystem = -17,
  kNotFound = -18,  // no run with this id
};

// Which limit refused an admission.
enum class Reason : int {
  kNone = 0,
  kRunHard = 1,
  kPool = 2,
  kCalls = 3,
  kTokens = 4,
  kDuration = 5,
  kConcurrency = 6,
  kLoop = 7,
  kClosed = 8,
  kUnpriced = 9,
  kParent = 10,  // an ancestor run's hard limit
};

const char* status_name(Status s);
const char* status_message(Status s);
const char* reason_name(Reason r);

}  // namespace ab
