// Money on the ledger: integer nano-USD (1 USD = 1e9). No floating point on
// the ledger path; conversion from text is exact decimal arithmetic.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ab {

using Nanos = int64_t;  // nano-USD
inline constexpr Nanos kNanosPerUsd = 1'000'000'000;
// The largest limit an operator may set ($1,000,000,000): far below the
// overflow of a counter, and never equal to kNoLimit (INT64_MAX).
inline constexpr Nanos kMaxLimitNanos = 1'000'000'000 * kNanosPerUsd;
inline constexpr Nanos kNoLimit = INT64_MAX;  // "no hard limit"

// Parses a non-negative decimal USD amount ("0.80", "1e-3", "12", "$2.50")
// into nano-USD, exactly. Digits past the ninth decimal must be zero unless
// `round` is set (then rounds half up). Returns nullopt for negative, NaN,
// Inf, malformed or overflowing text.
std::optional<Nanos> parse_usd(std::string_view text, bool round = false);

// Parses a non-negative decimal number and scales it by 10^scale exactly,
// rounding half up at the last kept digit. Used for per-token prices
// (scale 15: femto-USD). nullopt on malformed, negative or overflow.
std::optional<int64_t> parse_decimal_scaled(std::string_view text, int scale);

// Formats nano-USD as a decimal USD string with 9 decimals trimmed to at
// least `min_decimals` ("0.80", "76.16", "-0.000001").
std::string format_usd(Nanos n, int min_decimals = 2);

// Overflow-checked addition; false on overflow.
inline bool add_overflows(Nanos a, Nanos b, Nanos* out) { return __builtin_add_overflow(a, b, out); }

}  // namespace ab
