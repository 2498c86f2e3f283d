#include "command/exact_sum.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

std::string Sum(const std::string& text) {
  ExactSum sum;
  absl::Status st = sum.AddAll(text);
  return st.ok() ? sum.ToString() : "error: " + std::string(st.message());
}

TEST(ExactSumTest, Integers) {
  EXPECT_EQ(Sum(""), "0");
  EXPECT_EQ(Sum("1 2 3\n4"), "10");
  EXPECT_EQ(Sum("-5 3"), "-2");
  EXPECT_EQ(Sum("5 -5"), "0");
  EXPECT_EQ(Sum("+7"), "7");
}

TEST(ExactSumTest, BeyondSixtyFourBits) {
  // 2^64 + 2^64 + 1, which no double or uint64 holds exactly.
  EXPECT_EQ(Sum("18446744073709551616 18446744073709551616 1"),
            "36893488147419103233");
}

TEST(ExactSumTest, DecimalsWithoutRounding) {
  EXPECT_EQ(Sum("0.1 0.2"), "0.3");  // 0.30000000000000004 in doubles
  EXPECT_EQ(Sum("1.50 2.5"), "4");
  EXPECT_EQ(Sum("-0.25 0.1"), "-0.15");
  EXPECT_EQ(Sum(".5 5."), "5.5");
  EXPECT_EQ(Sum("0.000001 -1"), "-0.999999");
}

TEST(ExactSumTest, RejectsNonNumbers) {
  EXPECT_NE(Sum("1 two 3").find("'two'"), std::string::npos);
  EXPECT_NE(Sum("1e3").find("error"), std::string::npos);
  EXPECT_NE(Sum("1.2.3").find("error"), std::string::npos);
  EXPECT_NE(Sum("-").find("error"), std::string::npos);
  EXPECT_NE(Sum(".").find("error"), std::string::npos);
}

}  // namespace
}  // namespace shardex
