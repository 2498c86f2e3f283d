#include "kernels/payload.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(PayloadTest, RoundTrips) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{50847534}, kMax}) {
    EXPECT_EQ(DecodeCount(EncodeCount(v), 0).value(), v);
  }
  EXPECT_EQ(EncodeCount(50847534), "50847534");
}

TEST(PayloadTest, RejectsAnythingEncodeCountDoesNotWrite) {
  for (const std::string& bad : std::vector<std::string>{
           "", "01", "+1", "-1", " 1", "1 ", "1e3", "0x1",
           "18446744073709551616", std::string("1\0", 2)}) {
    absl::StatusOr<uint64_t> v = DecodeCount(bad, 3);
    ASSERT_FALSE(v.ok()) << "'" << bad << "' decoded as " << *v;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find("payload of shard 3"),
              absl::string_view::npos)
        << v.status();
  }
}

TEST(PayloadTest, SumsExactly) {
  const std::vector<std::string> payloads = {"1", "0", "18446744073709551613",
                                             "1"};
  EXPECT_EQ(SumCounts(payloads).value(), kMax);
}

TEST(PayloadTest, SumRejectsEmptyCorruptAndOverflow) {
  EXPECT_EQ(SumCounts({}).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> corrupt = {"1", "x"};
  EXPECT_EQ(SumCounts(corrupt).status().message(),
            "payload of shard 1 is not a decimal count: 'x'");
  const std::vector<std::string> overflow = {"18446744073709551615", "1"};
  EXPECT_EQ(SumCounts(overflow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shardex
