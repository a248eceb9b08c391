// Loads LiteLLM's model_prices_and_context_window.json into ModelPrice rows.
// The JSON is the lingua franca for LLM prices (DESIGN.md, "Pricing"); this
// is the only place that knows its field names.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "model_price.h"

namespace ab {

struct PriceTableLoad {
  std::vector<ModelPrice> models;    // sorted by name, byte order
  std::vector<std::string> skipped;  // "name: why" for every entry not loaded
};

// Parses the JSON text. Returns false and sets *error (naming the model key
// and field) when the document is not a JSON object or a price field is
// malformed (negative, not a number, absurd). Entries that are not models
// (sample_spec, fallback_generalizations, last_updated, non-objects), entries
// with no per-token price (images, audio, ...), entries with more tiers than
// kMaxTiers and keys longer than kModelNameMax are skipped and listed in
// `skipped`. *out is only written on success.
bool parse_litellm_prices(std::string_view json_text, PriceTableLoad* out, std::string* error);

// Reads the file and parses it; *error names the path.
bool load_litellm_prices(const std::string& path, PriceTableLoad* out, std::string* error);

// The table bundled with the build: AB_DEFAULT_DATA_DIR/prices/....
std::string default_price_table_path();

}  // namespace ab
