#include "kernels/split.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

Domain Range(uint64_t lo, uint64_t hi) {
  return Domain{Domain::Kind::kRange, lo, hi};
}

Domain Tasks() { return Domain{Domain::Kind::kTasks, 0, 0}; }

// Shards must tile [lo, hi) in order with sizes differing by at most one.
void ExpectTiles(const Domain& d, uint64_t shards) {
  uint64_t expected_begin = d.lo;
  uint64_t min_size = kMax;
  uint64_t max_size = 0;
  for (uint64_t i = 0; i < shards; ++i) {
    const ShardRange r = ShardRangeOf(d, shards, i);
    ASSERT_EQ(r.begin, expected_begin) << "shard " << i << " of " << shards;
    ASSERT_LE(r.begin, r.end) << "shard " << i << " of " << shards;
    min_size = std::min(min_size, r.end - r.begin);
    max_size = std::max(max_size, r.end - r.begin);
    expected_begin = r.end;
  }
  EXPECT_EQ(expected_begin, d.hi) << shards << " shards";
  EXPECT_LE(max_size - min_size, 1u) << shards << " shards";
}

TEST(ShardRangeOfTest, MatchesTheFormulaOnASmallRange) {
  const Domain d = Range(10, 20);  // 10 numbers, 3 shards: 3, 3, 4
  EXPECT_EQ(ShardRangeOf(d, 3, 0).begin, 10u);
  EXPECT_EQ(ShardRangeOf(d, 3, 0).end, 13u);
  EXPECT_EQ(ShardRangeOf(d, 3, 1).begin, 13u);
  EXPECT_EQ(ShardRangeOf(d, 3, 1).end, 16u);
  EXPECT_EQ(ShardRangeOf(d, 3, 2).begin, 16u);
  EXPECT_EQ(ShardRangeOf(d, 3, 2).end, 20u);
}

TEST(ShardRangeOfTest, TilesManyDomains) {
  const std::vector<Domain> domains = {
      Range(0, 1),       Range(0, 10),           Range(5, 6),
      Range(0, 1000003), Range(123, 1000000000), Range(kMax - 10, kMax),
      Range(0, kMax),    Range(1, kMax),
  };
  for (const Domain& d : domains) {
    for (uint64_t shards : {1, 2, 3, 7, 10, 64, 1000}) {
      if (shards > d.hi - d.lo) continue;
      ExpectTiles(d, shards);
    }
  }
}

TEST(ShardRangeOfTest, NoOverflowOnTheWidestDomain) {
  // (hi-lo)*i overflows 64 bits here; the split needs 128-bit arithmetic.
  const Domain d = Range(0, kMax);
  EXPECT_EQ(ShardRangeOf(d, 2, 0).end, kMax / 2);
  EXPECT_EQ(ShardRangeOf(d, 3, 1).begin, kMax / 3);
  EXPECT_EQ(ShardRangeOf(d, 3, 2).begin, kMax / 3 * 2);
  EXPECT_EQ(ShardRangeOf(d, 3, 2).end, kMax);
  const uint64_t n = uint64_t{1} << 40;
  EXPECT_EQ(ShardRangeOf(d, n, n - 1).end, kMax);
  EXPECT_EQ(ShardRangeOf(d, n, n - 1).begin,
            static_cast<uint64_t>(static_cast<unsigned __int128>(kMax) *
                                  (n - 1) / n));
}

TEST(ShardRangeOfTest, EmptyRangeHasOneEmptyShard) {
  const ShardRange r = ShardRangeOf(Range(5, 5), 1, 0);
  EXPECT_EQ(r.begin, 5u);
  EXPECT_EQ(r.end, 5u);
}

TEST(ShardRangeOfTest, TasksAreOneWide) {
  for (uint64_t i : {0, 1, 41}) {
    const ShardRange r = ShardRangeOf(Tasks(), 42, i);
    EXPECT_EQ(r.begin, i);
    EXPECT_EQ(r.end, i + 1);
  }
}

TEST(ShardRangeOfTest, OutOfContractGivesAnEmptyRange) {
  for (const ShardRange r :
       {ShardRangeOf(Range(0, 10), 0, 0), ShardRangeOf(Range(0, 10), 2, 2),
        ShardRangeOf(Tasks(), 0, 0), ShardRangeOf(Tasks(), 3, 5)}) {
    EXPECT_EQ(r.begin, r.end);
  }
}

TEST(ValidateShardCountTest, RejectsZero) {
  absl::Status s = ValidateShardCount(Range(0, 10), 0, 100);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--shards must be at least 1");
  EXPECT_EQ(ValidateShardCount(Tasks(), 0, 100).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateShardCountTest, RejectsMoreThanTheMaximum) {
  absl::Status s = ValidateShardCount(Range(0, 1000000), 101, 100);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--shards 101 exceeds the maximum of 100");
  EXPECT_EQ(ValidateShardCount(Tasks(), 101, 100).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateShardCount(Tasks(), 100, 100).ok());
}

TEST(ValidateShardCountTest, RejectsMoreShardsThanNumbers) {
  absl::Status s = ValidateShardCount(Range(0, 10), 100, 1000);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--shards 100 exceeds the 10 numbers in [0, 10)");
  EXPECT_EQ(ValidateShardCount(Range(7, 8), 2, 1000).message(),
            "--shards 2 exceeds the 1 number in [7, 8)");
  EXPECT_TRUE(ValidateShardCount(Range(0, 10), 10, 1000).ok());
}

TEST(ValidateShardCountTest, EmptyRangeTakesExactlyOneShard) {
  EXPECT_TRUE(ValidateShardCount(Range(5, 5), 1, 1000).ok());
  EXPECT_EQ(ValidateShardCount(Range(5, 5), 2, 1000).message(),
            "--shards 2 exceeds the 0 numbers in [5, 5)");
}

TEST(DefaultShardCountTest, RangeUsesFourPerSlotClampedToTheNumbers) {
  EXPECT_EQ(DefaultShardCount(Range(0, 1000000000), 8), 32u);
  EXPECT_EQ(DefaultShardCount(Range(0, 10), 8), 10u);
  EXPECT_EQ(DefaultShardCount(Range(0, 1000), 0), 1u);
  EXPECT_EQ(DefaultShardCount(Range(5, 5), 8), 1u);
  EXPECT_EQ(DefaultShardCount(Range(0, kMax), kMax), kMax);  // saturates
}

TEST(DefaultShardCountTest, TasksUseOnePerSlot) {
  EXPECT_EQ(DefaultShardCount(Tasks(), 8), 8u);
  EXPECT_EQ(DefaultShardCount(Tasks(), 0), 1u);
}

TEST(ValidateShardRangeTest, RangeMustLieWithinTheDomain) {
  const Domain d = Range(10, 20);
  EXPECT_TRUE(ValidateShardRange(d, {10, 20}).ok());
  EXPECT_TRUE(ValidateShardRange(d, {15, 15}).ok());
  EXPECT_EQ(ValidateShardRange(d, {9, 12}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateShardRange(d, {12, 21}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateShardRange(d, {13, 12}).message(),
            "shard [13, 12) is not within [10, 20)");
}

TEST(ValidateShardRangeTest, TaskShardIsExactlyOneTask) {
  EXPECT_TRUE(ValidateShardRange(Tasks(), {3, 4}).ok());
  EXPECT_EQ(ValidateShardRange(Tasks(), {3, 5}).message(),
            "shard [3, 5) is not a single task");
  EXPECT_FALSE(ValidateShardRange(Tasks(), {3, 3}).ok());
}

}  // namespace
}  // namespace shardex

namespace shardex {
namespace {

TEST(SplitHintsTest, FixedTaskCountIsTheDefaultAndTheOnlyCount) {
  Domain d;
  d.kind = Domain::Kind::kTasks;
  d.hi = 5;
  EXPECT_EQ(DefaultShardCount(d, 64), 5u);
  EXPECT_TRUE(ValidateShardCount(d, 5, 1000).ok());
  EXPECT_EQ(ValidateShardCount(d, 4, 1000).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SplitHintsTest, ShardSizeHintSetsTheDefaultCount) {
  Domain d;
  d.lo = 0;
  d.hi = 1000;
  d.shard_size_hint = 300;
  EXPECT_EQ(DefaultShardCount(d, 2), 4u);  // ceil(1000 / 300)
  d.shard_size_hint = 0;
  EXPECT_EQ(DefaultShardCount(d, 2), 8u);  // 4 x slots
}

}  // namespace
}  // namespace shardex
