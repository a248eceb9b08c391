// One calls.jsonl line as `agentbudgetctl replay` reads it: parsed, its
// provider usage normalised, and priced. Any bytes; never a crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_daemon.h"
#include "model_price.h"
#include "trace.h"
#include "usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string line(reinterpret_cast<const char*>(data), size);
  ab::TraceCall call;
  std::string run_id, error;
  if (!ab::parse_call_line(line, &call, &run_id, &error)) {
    if (error.empty()) std::abort();
    return 0;
  }
  ab::Usage u;
  if (ab::normalise(call.usage, &u) != ab::UsageError::kNone) return 0;
  // Priced as replay prices it: the bundled table, through the ledger.
  ab::ModelPrice m;
  int64_t cost = 0;
  if (abfuzz::daemon().ledger().find_price(call.model, &m) == ab::Status::kOk && ab::price_call(m, u, &cost) &&
      cost < 0)
    std::abort();
  if (call.recorded_cost && *call.recorded_cost < 0) std::abort();  // costs are refused when negative
  return 0;
}
