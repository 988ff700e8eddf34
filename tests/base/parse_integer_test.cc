#include "base/parse_integer.h"

#include <gtest/gtest.h>

namespace lightvlm {
namespace {

TEST(ParseIntegerTest, ReadsExactlyOneDecimalInteger) {
  EXPECT_EQ(ParseInteger("0"), 0);
  EXPECT_EQ(ParseInteger("49"), 49);
  EXPECT_EQ(ParseInteger("-3"), -3);
  EXPECT_EQ(ParseInteger("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", " 4", "4 ", "+4", "4x", "0x10", "1.5", "-", "9223372036854775808"}) {
    EXPECT_EQ(ParseInteger(bad), std::nullopt) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace lightvlm
