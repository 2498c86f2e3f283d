#include "kernels/args.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

struct Valid {
  std::string text;
  uint64_t value;
};

TEST(ParseUint64ArgTest, AcceptsEveryDocumentedForm) {
  const std::vector<Valid> cases = {
      {"0", 0},
      {"7", 7},
      {"007", 7},
      {"1000000000", 1000000000},
      {"1_000_000", 1000000},
      {"1_0", 10},
      {"1e9", 1000000000},
      {"1E9", 1000000000},
      {"25e8", 2500000000},
      {"1e0", 1},
      {"1.5e9", 1500000000},
      {"2.50e1", 25},
      {"1.0", 1},
      {"10^9", 1000000000},
      {"10^0", 1},
      {"2^32", uint64_t{1} << 32},
      {"2^63", uint64_t{1} << 63},
      {"0^0", 1},
      {"0^5", 0},
      {"1^99999999999999999999999", 1},
      {"0e99999999999999999999999", 0},
      {"18446744073709551615", kMax},
      {"18_446_744_073_709_551_615", kMax},
      {"1.8446744073709551615e19", kMax},
      {"0000000000000000000000000042", 42},
  };
  for (const Valid& c : cases) {
    absl::StatusOr<uint64_t> v = ParseUint64Arg("to", c.text);
    ASSERT_TRUE(v.ok()) << c.text << ": " << v.status();
    EXPECT_EQ(*v, c.value) << c.text;
  }
}

TEST(ParseUint64ArgTest, RejectsMalformedTextNamingTheParameter) {
  const std::vector<std::string> cases = {
      "",    "-5",   "+5",    " 5",    "5 ",    "12x",  "x12",  "1e",
      "e9",  "1_",   "_1",    "1__0",  "1.5",   "1.",   ".5",   "0x10",
      "10^", "^9",   "2^3^2", "1e9.5", "1,000", "1e-3", "1e+3", "1.5e0",
      "0.5", "1e_9", "2^-1",  "١٢",    "1 000"};
  for (const std::string& text : cases) {
    absl::StatusOr<uint64_t> v = ParseUint64Arg("to", text);
    ASSERT_FALSE(v.ok()) << "'" << text << "' parsed as " << *v;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(v.status().message(),
              "--to: '" + text + "' is not a non-negative integer");
  }
}

TEST(ParseUint64ArgTest, RejectsValuesAboveUint64Max) {
  const std::vector<std::string> cases = {"18446744073709551616",
                                          "18446744073709551615_0",
                                          "99999999999999999999999999",
                                          "1e20",
                                          "2e19",
                                          "1.8446744073709551616e19",
                                          "2^64",
                                          "10^20",
                                          "3^41",
                                          "1e99999999999999999999999",
                                          "2^99999999999999999999999"};
  for (const std::string& text : cases) {
    absl::StatusOr<uint64_t> v = ParseUint64Arg("samples", text);
    ASSERT_FALSE(v.ok()) << "'" << text << "' parsed as " << *v;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(
        v.status().message(),
        "--samples: '" + text + "' exceeds the maximum 18446744073709551615");
  }
}

TEST(ParseUint64ArgTest, LargestPowersThatFit) {
  EXPECT_EQ(ParseUint64Arg("n", "1e19").value(), 10000000000000000000u);
  EXPECT_EQ(ParseUint64Arg("n", "3^40").value(), 12157665459056928801u);
  EXPECT_EQ(ParseUint64Arg("n", "1.8e19").value(), 18000000000000000000u);
}

const std::vector<KernelParam>& TestParams() {
  static const auto* params = new std::vector<KernelParam>{
      {"to", "upper bound", "", true},
      {"from", "lower bound", "0", false},
      {"seed", "optional, no default", "", false},
  };
  return *params;
}

TEST(ResolveArgsTest, RejectsUnknownArgument) {
  absl::StatusOr<KernelArgs> r =
      ResolveArgs("primes", TestParams(), {{"to", "10"}, {"foo", "1"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "unknown argument --foo for kernel primes");
}

TEST(ResolveArgsTest, AsSubmittedNamesOnlyForPathParameters) {
  std::vector<KernelParam> params = TestParams();
  KernelParam files{"files", "inputs", "", true};
  files.is_path = true;
  params.push_back(files);
  absl::StatusOr<KernelArgs> r = ResolveArgs(
      "k", params,
      {{"to", "1"}, {"files", "/blob/1"}, {"files@as-submitted", "/home/a"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(AsSubmitted(*r, "files"), "/home/a");
  EXPECT_EQ(AsSubmitted(*r, "to"), "");
  r = ResolveArgs("k", params,
                  {{"to", "1"}, {"files", "/a"}, {"to@as-submitted", "2"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "unknown argument --to@as-submitted for kernel k");
}

TEST(ResolveArgsTest, RejectsMissingRequiredArgument) {
  absl::StatusOr<KernelArgs> r =
      ResolveArgs("primes", TestParams(), {{"from", "3"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "missing required argument --to for kernel primes");
}

TEST(ResolveArgsTest, FillsDefaultsButLeavesEmptyDefaultsAbsent) {
  absl::StatusOr<KernelArgs> r =
      ResolveArgs("primes", TestParams(), {{"to", "10"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (KernelArgs{{"to", "10"}, {"from", "0"}}));
}

TEST(ResolveArgsTest, KeepsGivenValuesOverDefaults) {
  absl::StatusOr<KernelArgs> r = ResolveArgs(
      "primes", TestParams(), {{"to", "10"}, {"from", "4"}, {"seed", "9"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (KernelArgs{{"to", "10"}, {"from", "4"}, {"seed", "9"}}));
}

TEST(GetUint64ArgTest, ParsesPresentValueAndFallsBackWhenAbsent) {
  const KernelArgs args = {{"to", "1e3"}};
  EXPECT_EQ(GetUint64Arg(args, "to", 5).value(), 1000u);
  EXPECT_EQ(GetUint64Arg(args, "from", 5).value(), 5u);
}

TEST(GetUint64ArgTest, ErrorNamesTheParameter) {
  absl::StatusOr<uint64_t> v = GetUint64Arg({{"to", "12x"}}, "to", 0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "--to: '12x' is not a non-negative integer");
}

TEST(CheckArgRangeTest, AcceptsBoundsAndRejectsOutside) {
  EXPECT_TRUE(CheckArgRange("ms", 0, 0, 3600000).ok());
  EXPECT_TRUE(CheckArgRange("ms", 3600000, 0, 3600000).ok());
  absl::Status s = CheckArgRange("ms", 3600001, 0, 3600000);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--ms must be between 0 and 3600000, got 3600001");
}

TEST(CheckArgRangeTest, OpenUpperBoundSaysAtLeast) {
  absl::Status s = CheckArgRange("samples", 0, 1, kMax);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--samples must be at least 1, got 0");
  EXPECT_TRUE(CheckArgRange("samples", kMax, 1, kMax).ok());
}

}  // namespace
}  // namespace shardex
