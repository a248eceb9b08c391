// Exact decimal text <-> integer money. Amounts arrive as text (config files,
// JSON prices, CLI arguments); going through a double would turn "0.1" into
// 0.1000000000000000055511151231257827 and caps would stop tripping exactly.
// So the digits are read as an integer and the decimal point is moved by
// counting, never by multiplying floats.
#include "money.h"

#include <cstddef>

namespace ab {
namespace {

enum class Rounding { kExact, kHalfUp };

// A number as written, split at the point: value = (int_part frac_part read
// as one integer) * 10^exp10. Leading zeros are kept; they cost nothing.
struct Decimal {
  std::string_view int_part;
  std::string_view frac_part;
  int64_t exp10 = 0;
};

// Exponents beyond this make any non-zero value overflow or vanish, so the
// parser saturates there instead of overflowing its own counter.
constexpr int64_t kExpSaturation = 1'000'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Grammar: digits ['.' digits] [('e'|'E') ['+'|'-'] digits], at least one
// mantissa digit. No sign (negative money is refused), no spaces, no
// "nan"/"inf": anything else is garbage.
bool split_decimal(std::string_view s, Decimal* d) {
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  d->int_part = s.substr(0, i);
  d->frac_part = {};
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t frac_begin = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    d->frac_part = s.substr(frac_begin, i - frac_begin);
  }
  if (d->int_part.empty() && d->frac_part.empty()) return false;
  int64_t exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    const size_t exp_begin = i;
    while (i < s.size() && is_digit(s[i])) {
      if (exp < kExpSaturation) exp = exp * 10 + (s[i] - '0');
      ++i;
    }
    if (i == exp_begin) return false;
    if (negative) exp = -exp;
  }
  if (i != s.size()) return false;
  // Text length bounds frac_part, so this cannot overflow int64.
  d->exp10 = exp - static_cast<int64_t>(d->frac_part.size());
  return true;
}

// Digit k (0-based, most significant first) of int_part followed by frac_part.
char digit_at(const Decimal& d, size_t k) {
  return k < d.int_part.size() ? d.int_part[k] : d.frac_part[k - d.int_part.size()];
}

// value * 10^scale as int64, exactly or rounded half up at the last kept digit.
std::optional<int64_t> scale_decimal(std::string_view text, int scale, Rounding rounding) {
  Decimal d;
  if (!split_decimal(text, &d)) return std::nullopt;
  const size_t n = d.int_part.size() + d.frac_part.size();
  const int64_t shift = d.exp10 + scale;  // result = all_digits * 10^shift

  // Digits that survive: all of them when shift >= 0, else all but -shift.
  const int64_t keep_signed = shift >= 0 ? static_cast<int64_t>(n) : static_cast<int64_t>(n) + shift;
  const size_t keep = keep_signed > 0 ? static_cast<size_t>(keep_signed) : 0;

  int64_t acc = 0;
  for (size_t k = 0; k < keep; ++k) {
    if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_add_overflow(acc, digit_at(d, k) - '0', &acc))
      return std::nullopt;
  }
  if (shift > 0 && acc != 0) {
    for (int64_t k = 0; k < shift; ++k)
      if (__builtin_mul_overflow(acc, 10, &acc)) return std::nullopt;
  }

  // Dropped digits: positions keep..n-1, plus virtual leading zeros when the
  // value is smaller than one unit (keep_signed < 0).
  bool dropped_nonzero = false;
  for (size_t k = keep; k < n; ++k) dropped_nonzero |= digit_at(d, k) != '0';
  if (dropped_nonzero) {
    if (rounding == Rounding::kExact) return std::nullopt;
    // The first dropped digit decides half up; a virtual leading zero never rounds up.
    const bool first_is_real = keep_signed >= 0 && keep < n;
    if (first_is_real && digit_at(d, keep) >= '5') {
      if (__builtin_add_overflow(acc, 1, &acc)) return std::nullopt;
    }
  }
  return acc;
}

}  // namespace

std::optional<Nanos> parse_usd(std::string_view text, bool round) {
  if (!text.empty() && text.front() == '$') text.remove_prefix(1);
  return scale_decimal(text, 9, round ? Rounding::kHalfUp : Rounding::kExact);
}

std::optional<int64_t> parse_decimal_scaled(std::string_view text, int scale) {
  if (scale < 0) return std::nullopt;  // only "move the point right" is meaningful here
  return scale_decimal(text, scale, Rounding::kHalfUp);
}

std::string format_usd(Nanos n, int min_decimals) {
  if (min_decimals < 0) min_decimals = 0;
  if (min_decimals > 9) min_decimals = 9;
  // Magnitude as unsigned so INT64_MIN formats too.
  const uint64_t mag = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string frac = std::to_string(mag % static_cast<uint64_t>(kNanosPerUsd));
  frac.insert(0, 9 - frac.size(), '0');
  size_t len = 9;
  while (len > static_cast<size_t>(min_decimals) && frac[len - 1] == '0') --len;
  std::string out = n < 0 ? "-" : "";
  out += std::to_string(mag / static_cast<uint64_t>(kNanosPerUsd));
  if (len > 0) out += "." + frac.substr(0, len);
  return out;
}

}  // namespace ab
