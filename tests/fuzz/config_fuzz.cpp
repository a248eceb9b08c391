// The TOML configuration parser on any bytes: never crashes, and either
// fills a configuration or explains every error (none returned partial).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  ab::DaemonConfig cfg;
  std::vector<std::string> errors;
  bool ok = ab::parse_config(text, "fuzz.toml", &cfg, &errors);
  if (ok == !errors.empty()) std::abort();       // success exactly when there is no error
  if (ok && cfg.policies.empty()) std::abort();  // a default policy always exists
  return 0;
}
