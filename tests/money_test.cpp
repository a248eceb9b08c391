// Money parsing and formatting: exact decimal, no floating point (S13, S14).
#include <gtest/gtest.h>

#include "money.h"

namespace ab {
namespace {

TEST(ParseUsd, SumsExactly) {
  // 0.1 + 0.7 != 0.8 in doubles; in nanos it must be.
  const auto a = parse_usd("0.10"), b = parse_usd("0.70"), c = parse_usd("0.80");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 100'000'000);
  EXPECT_EQ(*b, 700'000'000);
  EXPECT_EQ(*a + *b, *c);
  EXPECT_EQ(*c, 800'000'000);
}

TEST(ParseUsd, AcceptedForms) {
  EXPECT_EQ(parse_usd("76.16"), 76'160'000'000);
  EXPECT_EQ(parse_usd("1e-3"), 1'000'000);
  EXPECT_EQ(parse_usd("1E3"), 1'000'000'000'000);
  EXPECT_EQ(parse_usd("2.5e+1"), 25'000'000'000);
  EXPECT_EQ(parse_usd("0.000000001"), 1);
  EXPECT_EQ(parse_usd("12"), 12'000'000'000);
  EXPECT_EQ(parse_usd("$2.50"), 2'500'000'000);
  EXPECT_EQ(parse_usd(".5"), 500'000'000);
  EXPECT_EQ(parse_usd("0"), 0);
  EXPECT_EQ(parse_usd("0e999999999999"), 0);    // zero stays zero, however scaled
  EXPECT_EQ(parse_usd("0.00000000100000"), 1);  // trailing zeros past nano are fine
  EXPECT_EQ(parse_usd("0000000000000000000000012.5"), 12'500'000'000);
  EXPECT_EQ(parse_usd("9223372036.854775807"), INT64_MAX);
}

TEST(ParseUsd, Refusals) {
  for (const char* bad : {"-0.008",
                          "-0",
                          "nan",
                          "NaN",
                          "inf",
                          "+Inf",
                          "Infinity",
                          "1e30",
                          "",
                          "abc",
                          "$",
                          "$-1",
                          "1.0000000001",
                          "9223372036.854775808",
                          "1e",
                          "1e-",
                          "e5",
                          ".",
                          "1.2.3",
                          " 1",
                          "1 ",
                          "0x10",
                          "1,5",
                          "+1",
                          "1e99999999999999999999"}) {
    EXPECT_FALSE(parse_usd(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(ParseUsd, RoundingHalfUpOnlyWhenAsked) {
  EXPECT_FALSE(parse_usd("1.0000000001").has_value());
  EXPECT_EQ(parse_usd("1.0000000001", true), 1'000'000'000);
  EXPECT_EQ(parse_usd("1.0000000005", true), 1'000'000'001);
  EXPECT_EQ(parse_usd("1.00000000049999", true), 1'000'000'000);
  EXPECT_EQ(parse_usd("5e-10", true), 1);
  EXPECT_EQ(parse_usd("4.9e-10", true), 0);
  EXPECT_EQ(parse_usd("5e-11", true), 0);
  EXPECT_EQ(parse_usd("1e-99999999", true), 0);
  EXPECT_FALSE(parse_usd("1e-99999999").has_value());
  EXPECT_FALSE(parse_usd("9223372036.8547758075", true).has_value());  // rounds past INT64_MAX
}

TEST(ParseDecimalScaled, PerTokenPricesToFemtos) {
  EXPECT_EQ(parse_decimal_scaled("3e-06", 15), 3'000'000'000);
  EXPECT_EQ(parse_decimal_scaled("1.25e-07", 15), 125'000'000);
  EXPECT_EQ(parse_decimal_scaled("1.25e-08", 15), 12'500'000);  // $0.0125/M
  EXPECT_EQ(parse_decimal_scaled("2.9999900000000002e-06", 15), 2'999'990'000);
  EXPECT_EQ(parse_decimal_scaled("0", 15), 0);
  EXPECT_EQ(parse_decimal_scaled("42", 0), 42);
}

TEST(ParseDecimalScaled, RoundsHalfUpAtLastKeptDigit) {
  EXPECT_EQ(parse_decimal_scaled("2.5", 0), 3);
  EXPECT_EQ(parse_decimal_scaled("2.4999", 0), 2);
  EXPECT_EQ(parse_decimal_scaled("1.5", 0), 2);
  EXPECT_EQ(parse_decimal_scaled("5e-16", 15), 1);
  EXPECT_EQ(parse_decimal_scaled("4.99e-16", 15), 0);
  EXPECT_EQ(parse_decimal_scaled("0.123456", 3), 123);
  EXPECT_EQ(parse_decimal_scaled("0.1235", 3), 124);
}

TEST(ParseDecimalScaled, Refusals) {
  EXPECT_FALSE(parse_decimal_scaled("-1", 0).has_value());
  EXPECT_FALSE(parse_decimal_scaled("nan", 15).has_value());
  EXPECT_FALSE(parse_decimal_scaled("$1", 0).has_value());  // '$' is parse_usd's business
  EXPECT_FALSE(parse_decimal_scaled("1e19", 0).has_value());
  EXPECT_EQ(parse_decimal_scaled("9223372036854775807", 0), INT64_MAX);
  EXPECT_FALSE(parse_decimal_scaled("9223372036854775808", 0).has_value());
  EXPECT_FALSE(parse_decimal_scaled("10", 18).has_value());
}

TEST(FormatUsd, Examples) {
  EXPECT_EQ(format_usd(800'000'000), "0.80");
  EXPECT_EQ(format_usd(76'160'000'000), "76.16");
  EXPECT_EQ(format_usd(-1'000), "-0.000001");
  EXPECT_EQ(format_usd(0), "0.00");
  EXPECT_EQ(format_usd(1), "0.000000001");
  EXPECT_EQ(format_usd(1'234'500'000), "1.2345");
  EXPECT_EQ(format_usd(1'000'000'000, 0), "1");
  EXPECT_EQ(format_usd(54'399'000, 6), "0.054399");
  EXPECT_EQ(format_usd(INT64_MAX), "9223372036.854775807");
  EXPECT_EQ(format_usd(INT64_MIN), "-9223372036.854775808");
}

TEST(FormatUsd, RoundTripsThroughParse) {
  for (Nanos n : {Nanos{0}, Nanos{1}, Nanos{999'999'999}, Nanos{1'000'000'000}, Nanos{45'000'000},
                  Nanos{123'456'789'012}, INT64_MAX}) {
    EXPECT_EQ(parse_usd(format_usd(n)), n) << n;
  }
}

}  // namespace
}  // namespace ab
