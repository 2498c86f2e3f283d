#include "coordinator/range_carver.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

// Carves everything, feeding back `us_per_unit` for each shard as if it
// ran; returns the ranges in order.
std::vector<ShardRange> CarveAll(RangeCarver& c, uint64_t slots,
                                 double us_per_unit) {
  std::vector<ShardRange> out;
  while (std::optional<ShardRange> r = c.Next(slots, out.size())) {
    out.push_back(*r);
    const uint64_t units = r->end - r->begin;
    c.Observe(units, static_cast<uint64_t>(units * us_per_unit));
  }
  return out;
}

TEST(RangeCarverTest, ShardsTileTheDomainInOrder) {
  RangeCarver c(10, 1'000'010, {});
  const std::vector<ShardRange> shards = CarveAll(c, 4, 3.0);
  ASSERT_FALSE(shards.empty());
  uint64_t at = 10;
  for (const ShardRange& r : shards) {
    EXPECT_EQ(r.begin, at);
    EXPECT_LT(r.begin, r.end);
    at = r.end;
  }
  EXPECT_EQ(at, 1'000'010u);
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.remaining(), 0u);
}

TEST(RangeCarverTest, ProbesFirstThenAboutTheTargetThenSmallerAtTheEnd) {
  // 100 s of work per slot at 1 us per unit on 2 slots, target 1 s.
  RangeCarver c(0, 200'000'000, {absl::Seconds(1), 0, 0});
  // Nothing measured: a probe of remaining / (32 x slots).
  EXPECT_EQ(c.NextSize(2, 0), 200'000'000u / 64);
  c.Observe(1'000'000, 1'000'000);  // 1 us per unit
  EXPECT_DOUBLE_EQ(c.cost(), 1.0);
  EXPECT_EQ(c.NextSize(2, 1), 1'000'000u);  // the 1 s target
  const std::vector<ShardRange> shards = CarveAll(c, 2, 1.0);
  // The last shards are far below the target but at least 1/50 of it.
  const ShardRange& last = shards.back();
  EXPECT_LT(last.end - last.begin, 1'000'000u / 4);
  for (const ShardRange& r : shards) {
    if (&r == &last) break;  // the last takes whatever is left
    EXPECT_GE(r.end - r.begin, 1'000'000u / 50);
    EXPECT_LE(r.end - r.begin, 200'000'000u / 64);
  }
}

TEST(RangeCarverTest, SlowerUnitsGiveSmallerShards) {
  RangeCarver cheap(0, 1'000'000'000, {absl::Seconds(1), 0, 0});
  RangeCarver dear(0, 1'000'000'000, {absl::Seconds(1), 0, 0});
  cheap.Observe(1000, 1000);
  dear.Observe(1000, 10'000);
  EXPECT_EQ(cheap.NextSize(2, 0), 10 * dear.NextSize(2, 0));
}

TEST(RangeCarverTest, MaxSizeAndMaxShardsBound) {
  RangeCarver hinted(0, 1'000'000, {absl::Seconds(1), 1000, 0});
  EXPECT_EQ(hinted.NextSize(1, 0), 1000u);
  // Cheap units would make millions of shards; at most 10 are allowed.
  RangeCarver capped(0, 1'000'000, {absl::Seconds(1), 0, 10});
  capped.Observe(1, 1'000'000);  // 1 s per unit: 1-unit shards by time
  const std::vector<ShardRange> shards = CarveAll(capped, 1, 1'000'000);
  EXPECT_LE(shards.size(), 10u);
  EXPECT_EQ(shards.back().end, 1'000'000u);
}

TEST(RangeCarverTest, RemoveLeavesGapsThatAreCarvedInOrder) {
  RangeCarver c(0, 100, {});
  c.Remove({10, 20});
  c.Remove({50, 100});
  c.Remove({0, 5});
  EXPECT_EQ(c.remaining(), 5u + 30u);
  std::vector<ShardRange> shards = CarveAll(c, 1, 1.0);
  uint64_t covered = 0;
  for (const ShardRange& r : shards) {
    EXPECT_TRUE((r.begin >= 5 && r.end <= 10) || (r.begin >= 20 && r.end <= 50))
        << r.begin << "-" << r.end;
    covered += r.end - r.begin;
  }
  EXPECT_EQ(covered, 35u);
}

TEST(RangeCarverTest, TruncateDropsWhatLiesAboveACutoff) {
  RangeCarver c(0, 100, {});
  c.Remove({0, 30});
  EXPECT_EQ(c.TruncateAt(60), 40u);
  EXPECT_EQ(c.remaining(), 30u);
  EXPECT_EQ(c.TruncateAt(10), 30u);
  EXPECT_TRUE(c.empty());
}

TEST(RangeCarverTest, EmptyDomainHasNothingToCarve) {
  RangeCarver c(7, 7, {});
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c.Next(4, 0).has_value());
}

}  // namespace
}  // namespace shardex
