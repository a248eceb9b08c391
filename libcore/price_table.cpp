// LiteLLM price table -> ModelPrice rows.
//
// Prices are USD per token as JSON doubles. Each is converted exactly: the
// double is printed in its shortest round-trip form ("3e-06", which is what
// the file says) and that decimal text is scaled to femto-USD without any
// floating-point arithmetic, so $3/M becomes exactly 3,000,000,000 fUSD.
//
// Read: the per-token prices of the standard, real-time API, their
// long-context tiers (`*_above_<N>k_tokens` and `tiered_pricing`), the
// per-request fee and the context limits. Ignored on purpose: `*_batches`,
// `*_priority` and `*_flex` rates (batch rates are a later addition: they
// need the caller to say which API it used), and audio, image, video,
// character and per-second prices (not token-metered chat calls).
#include "price_table.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "money.h"

#ifndef AB_DEFAULT_DATA_DIR
#error "AB_DEFAULT_DATA_DIR must be defined by the build"
#endif

namespace ab {
namespace {

using nlohmann::json;

// Anything above these is a unit mistake in the table, not a price
// ($1 per token is $1M per million tokens).
constexpr Femtos kMaxTokenPrice = 1'000'000'000'000'000;        // $1
constexpr Femtos kMaxRequestPrice = 1'000'000'000'000'000'000;  // $1000

// A malformed field; thrown inside this file only, becomes *error.
struct BadField {
  std::string message;
};

[[noreturn]] void bad(const std::string& model, const std::string& field, const std::string& why) {
  throw BadField{"price table: model \"" + model + "\", field \"" + field + "\": " + why};
}

std::string number_text(const json& v) {
  char buf[64];
  std::to_chars_result r;
  if (v.is_number_unsigned())
    r = std::to_chars(buf, buf + sizeof buf, v.get<uint64_t>());
  else if (v.is_number_integer())
    r = std::to_chars(buf, buf + sizeof buf, v.get<int64_t>());
  else
    r = std::to_chars(buf, buf + sizeof buf, v.get<double>());  // shortest round trip
  return std::string(buf, r.ptr);
}

bool is_negative(const json& v) {
  if (v.is_number_unsigned()) return false;
  if (v.is_number_integer()) return v.get<int64_t>() < 0;
  return std::signbit(v.get<double>());  // -0.0 counts: it is no price
}

// A price in USD -> femto-USD. nullopt when absent; JSON null means absent
// too (LiteLLM itself treats a null price as "not set").
std::optional<Femtos> read_price(const json& obj, const std::string& field, const std::string& model, Femtos max) {
  const auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) bad(model, field, "not a number (" + it->dump() + ")");
  const std::string text = number_text(*it);
  if (is_negative(*it)) bad(model, field, "negative price " + text);
  const std::optional<int64_t> femtos = parse_decimal_scaled(text, kFemtoScale);
  if (!femtos || *femtos > max) bad(model, field, "absurd price " + text + " USD");
  return *femtos;
}

// A token count (context limit, tier threshold): a non-negative whole number.
std::optional<uint64_t> read_count(const json& v, const std::string& field, const std::string& model) {
  if (v.is_null()) return std::nullopt;
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0) bad(model, field, "negative token count " + v.dump());
    return static_cast<uint64_t>(v.get<int64_t>());
  }
  if (!v.is_number_float()) bad(model, field, "not a number (" + v.dump() + ")");
  const double d = v.get<double>();  // e.g. 256000.0 in tiered_pricing ranges
  if (!(d >= 0) || d != std::floor(d) || d >= 18446744073709551616.0)
    bad(model, field, "not a token count (" + v.dump() + ")");
  return static_cast<uint64_t>(d);
}

std::optional<uint64_t> read_count_field(const json& obj, const char* field, const std::string& model) {
  const auto it = obj.find(field);
  return it == obj.end() ? std::nullopt : read_count(*it, field, model);
}

// The prices one tier sets; unset members are inherited when resolving.
struct TierSpec {
  std::optional<Femtos> input, output, cache_read, write_5m, write_1h, reasoning;

  bool empty() const { return !input && !output && !cache_read && !write_5m && !write_1h && !reasoning; }
  void override_with(const TierSpec& o) {
    for (auto m : kMembers)
      if (o.*m) this->*m = o.*m;
  }
  static constexpr std::optional<Femtos> TierSpec::*kMembers[] = {&TierSpec::input,      &TierSpec::output,
                                                                  &TierSpec::cache_read, &TierSpec::write_5m,
                                                                  &TierSpec::write_1h,   &TierSpec::reasoning};
};

// LiteLLM's base field names, in TierSpec::kMembers order. A long-context
// tier appends "_above_<N>k_tokens" to any of them.
constexpr const char* kFieldNames[] = {"input_cost_per_token",
                                       "output_cost_per_token",
                                       "cache_read_input_token_cost",
                                       "cache_creation_input_token_cost",
                                       "cache_creation_input_token_cost_above_1hr",
                                       "output_cost_per_reasoning_token"};

TierSpec read_tier(const json& obj, const std::string& suffix, const std::string& model) {
  TierSpec s;
  for (size_t i = 0; i < std::size(kFieldNames); ++i)
    s.*TierSpec::kMembers[i] = read_price(obj, kFieldNames[i] + suffix, model, kMaxTokenPrice);
  // DeepSeek-style name for the cache-read price.
  if (!s.cache_read && suffix.empty())
    s.cache_read = read_price(obj, "input_cost_per_token_cache_hit", model, kMaxTokenPrice);
  return s;
}

// "<base>_above_<N>k_tokens" -> N. Anything else (…_priority, …_1hr,
// …_above_15s_interval) is not a token tier.
std::optional<uint64_t> tier_kilotokens(const std::string& key) {
  for (const char* base : kFieldNames) {
    const std::string prefix = std::string(base) + "_above_";
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view rest = std::string_view(key).substr(prefix.size());
    uint64_t n = 0;
    const char* rest_end = rest.data() + rest.size();
    const auto [end, ec] = std::from_chars(rest.data(), rest_end, n);
    if (ec == std::errc() && n > 0 && n < 1'000'000'000 && std::string_view(end, rest_end - end) == "k_tokens")
      return n;
  }
  return std::nullopt;
}

// All tiers of one entry keyed by threshold; key 0 is the base price.
std::map<uint64_t, TierSpec> read_tiers(const json& obj, const std::string& model) {
  std::map<uint64_t, TierSpec> tiers;
  tiers[0] = read_tier(obj, "", model);

  std::set<uint64_t> kilos;
  for (const auto& [key, value] : obj.items())
    if (const auto n = tier_kilotokens(key)) kilos.insert(*n);
  for (uint64_t n : kilos) {
    const TierSpec spec = read_tier(obj, "_above_" + std::to_string(n) + "k_tokens", model);
    if (!spec.empty()) tiers[n * 1000].override_with(spec);  // all-null fields make no tier
  }

  // tiered_pricing: [{"range": [lo, hi], <prices>}, ...]; a request whose
  // prompt exceeds lo is priced by that entry, and lo = 0 is the base price.
  const auto tp = obj.find("tiered_pricing");
  if (tp != obj.end() && !tp->is_null()) {
    if (!tp->is_array()) bad(model, "tiered_pricing", "not a list");
    for (const json& entry : *tp) {
      if (!entry.is_object()) bad(model, "tiered_pricing", "entry is not an object");
      const auto range = entry.find("range");
      if (range == entry.end()) continue;  // e.g. search tiers by max_results_range
      if (!range->is_array() || range->empty()) bad(model, "tiered_pricing.range", "not a [lo, hi] list");
      const std::optional<uint64_t> lo = read_count((*range)[0], "tiered_pricing.range", model);
      if (!lo) bad(model, "tiered_pricing.range", "null lower bound");
      const TierSpec spec = read_tier(entry, "", model);
      if (!spec.empty()) tiers[*lo].override_with(spec);
    }
  }
  return tiers;
}

// Unset prices of a higher tier inherit the base tier's (as LiteLLM does);
// cache prices the base leaves unset stay unset and fall back at pricing time.
PriceTier resolve(const TierSpec& s, uint64_t above, const PriceTier* base) {
  PriceTier t;
  t.above_prompt_tokens = above;
  // A model with only one of input/output priced (embeddings) is free for the other.
  t.input = s.input.value_or(base ? base->input : 0);
  t.output = s.output.value_or(base ? base->output : 0);
  t.cache_read = s.cache_read.value_or(base ? base->cache_read : kPriceUnset);
  t.cache_write_5m = s.write_5m.value_or(base ? base->cache_write_5m : kPriceUnset);
  t.cache_write_1h = s.write_1h.value_or(base ? base->cache_write_1h : kPriceUnset);
  t.reasoning = s.reasoning.value_or(base ? base->reasoning : kPriceUnset);
  return t;
}

bool is_non_model_key(const std::string& key) {
  return key == "sample_spec" || key == "fallback_generalizations" || key == "last_updated";
}

std::optional<ModelPrice> skip(std::string* why, std::string reason) {
  *why = std::move(reason);
  return std::nullopt;
}

// One entry -> a ModelPrice, or the reason it is skipped.
std::optional<ModelPrice> read_model(const std::string& key, const json& obj, std::string* why) {
  if (is_non_model_key(key)) return skip(why, "not a model entry");
  if (!obj.is_object()) return skip(why, "not a model entry (" + std::string(obj.type_name()) + ")");
  if (key.empty() || key.size() > kModelNameMax)
    return skip(why, "name empty or longer than " + std::to_string(kModelNameMax) + " bytes");

  const std::map<uint64_t, TierSpec> specs = read_tiers(obj, key);
  const TierSpec& base_spec = specs.at(0);
  if (!base_spec.input && !base_spec.output) {
    const auto mode = obj.find("mode");
    const std::string m = mode != obj.end() && mode->is_string() ? mode->get<std::string>() : "none";
    return skip(why, "no per-token price (mode " + m + ")");
  }
  if (specs.size() > kMaxTiers)
    return skip(why, std::to_string(specs.size()) + " price tiers, at most " + std::to_string(kMaxTiers));

  ModelPrice p;
  std::memset(&p, 0, sizeof p);  // plain data: no stray bytes in the name or padding
  std::memcpy(p.name, key.data(), key.size());
  p.name_len = static_cast<uint32_t>(key.size());
  for (const auto& [above, spec] : specs) {
    p.tiers[p.tier_count] = resolve(spec, above, p.tier_count ? &p.tiers[0] : nullptr);
    ++p.tier_count;
  }
  p.per_request = read_price(obj, "input_cost_per_request", key, kMaxRequestPrice).value_or(0);
  std::optional<uint64_t> max_out = read_count_field(obj, "max_output_tokens", key);
  if (!max_out) max_out = read_count_field(obj, "max_tokens", key);  // legacy name
  p.max_output_tokens = max_out.value_or(0);
  p.max_input_tokens = read_count_field(obj, "max_input_tokens", key).value_or(0);
  return p;
}

}  // namespace

bool parse_litellm_prices(std::string_view json_text, PriceTableLoad* out, std::string* error) {
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    *error = std::string("price table is not valid JSON: ") + e.what();
    return false;
  }
  if (!doc.is_object()) {
    *error = std::string("price table is not a JSON object (it is ") + doc.type_name() + ")";
    return false;
  }
  PriceTableLoad load;
  try {
    for (const auto& [key, value] : doc.items()) {  // std::map order: sorted by key
      std::string why;
      if (std::optional<ModelPrice> p = read_model(key, value, &why))
        load.models.push_back(*p);
      else
        load.skipped.push_back(key + ": " + why);
    }
  } catch (const BadField& e) {
    *error = e.message;
    return false;
  }
  *out = std::move(load);
  return true;
}

bool load_litellm_prices(const std::string& path, PriceTableLoad* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open price table " + path + ": " + std::strerror(errno);
    return false;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = "cannot read price table " + path;
    return false;
  }
  if (!parse_litellm_prices(text, out, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

// The installed table, found from the running program (<prefix>/bin/.. +
// AB_DATA_DIR_FROM_BIN: works for any install prefix and an unpacked
// package); else the source tree's (programs run from the build tree); else
// the one under the prefix configured at build time.
std::string default_price_table_path() {
  const std::string file = "/prices/litellm_model_prices_and_context_window.json";
  std::vector<std::string> candidates;
#ifdef AB_DATA_DIR_FROM_BIN
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::filesystem::path bin = std::filesystem::path(std::string(exe, size_t(n))).parent_path();
    candidates.push_back((bin / AB_DATA_DIR_FROM_BIN).lexically_normal().string() + file);
  }
#endif
  candidates.push_back(AB_DEFAULT_DATA_DIR + file);
#ifdef AB_INSTALL_DATA_DIR
  candidates.push_back(AB_INSTALL_DATA_DIR + file);
#endif
  for (const std::string& c : candidates)
    if (access(c.c_str(), R_OK) == 0) return c;
  return AB_DEFAULT_DATA_DIR + file;
}

}  // namespace ab
