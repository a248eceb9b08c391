// The LiteLLM price table loader on any bytes, and every model it accepts
// priced on usage taken from the same bytes: never a crash, never a
// negative cost.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "model_price.h"
#include "price_table.h"
#include "usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ab::PriceTableLoad load;
  std::string error;
  if (!ab::parse_litellm_prices(text, &load, &error)) {
    if (error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  uint64_t seed[6] = {};
  std::memcpy(seed, data, std::min(size, sizeof seed));
  ab::Usage u{};
  u.input = seed[0] % 10'000'000;
  u.cache_read = seed[1] % 10'000'000;
  u.cache_write_5m = seed[2] % 1'000'000;
  u.cache_write_1h = seed[3] % 1'000'000;
  u.output = seed[4] % 1'000'000;
  u.reasoning = seed[5] % 1'000'000;
  for (const ab::ModelPrice& m : load.models) {
    int64_t cost = 0;
    if (ab::price_call(m, u, &cost) && cost < 0) std::abort();
  }
  return 0;
}
