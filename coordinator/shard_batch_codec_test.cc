#include "coordinator/shard_batch_codec.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using Entries = std::vector<std::pair<uint64_t, std::string>>;
using ::testing::HasSubstr;

std::string Encode(const Entries& entries) {
  std::string batch;
  for (const auto& [shard, payload] : entries) {
    AppendShardEntry(shard, payload, &batch);
  }
  return batch;
}

TEST(ShardBatchCodecTest, RoundTrip) {
  const Entries entries = {
      {0, ""},
      {1, "1"},
      {127, std::string(127, 'x')},
      {128, std::string("nul\0byte", 8)},
      {300, std::string(100000, '\xff')},
      {std::numeric_limits<uint64_t>::max(), "max"},
      {5, "out of order"},
      {5, "twice"},
  };
  const std::string batch = Encode(entries);
  Entries decoded;
  ASSERT_TRUE(DecodeShardBatch(batch, &decoded).ok());
  EXPECT_EQ(decoded, entries);
}

TEST(ShardBatchCodecTest, EmptyBatchHoldsNothing) {
  Entries decoded;
  EXPECT_TRUE(DecodeShardBatch("", &decoded).ok());
  EXPECT_TRUE(decoded.empty());
}

TEST(ShardBatchCodecTest, SmallEntriesAreCompact) {
  std::string batch;
  AppendShardEntry(5, "1", &batch);
  EXPECT_EQ(batch, std::string("\x05\x01" "1", 3));
}

TEST(ShardBatchCodecTest, BatchesConcatenate) {
  std::string batch = Encode({{1, "a"}});
  batch += Encode({{2, "bb"}});
  Entries decoded;
  ASSERT_TRUE(DecodeShardBatch(batch, &decoded).ok());
  EXPECT_EQ(decoded, (Entries{{1, "a"}, {2, "bb"}}));
}

TEST(ShardBatchCodecTest, EveryTruncationIsDataLossNotACrash) {
  const std::string batch =
      Encode({{1, "first"}, {1u << 20, std::string(300, 'p')}});
  const size_t first_entry = Encode({{1, "first"}}).size();
  for (size_t cut = 1; cut < batch.size(); ++cut) {
    if (cut == first_entry) continue;  // a whole entry: valid
    Entries decoded;
    const absl::Status st = DecodeShardBatch(batch.substr(0, cut), &decoded);
    ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << "cut at " << cut;
    EXPECT_EQ(decoded.size(), cut < first_entry ? 0u : 1u);
  }
}

TEST(ShardBatchCodecTest, OverlongVarintIsDataLoss) {
  Entries decoded;
  // Eleven continuation bytes: no varint is that long.
  absl::Status st = DecodeShardBatch(std::string(11, '\x80'), &decoded);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(st.message()), HasSubstr("offset 0"));
  // Ten bytes whose last sets bits past 63.
  st = DecodeShardBatch(std::string(9, '\xff') + "\x02" "\x00", &decoded);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
}

TEST(ShardBatchCodecTest, LengthPastTheEndIsDataLoss) {
  Entries decoded;
  // Shard 1, a length of 2^64 - 1: must not wrap around the bounds check.
  const std::string batch =
      std::string("\x01") + std::string(9, '\xff') + "\x01" + "abc";
  const absl::Status st = DecodeShardBatch(batch, &decoded);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(decoded.empty());
}

TEST(ShardBatchCodecTest, RangedEntriesCarryTheirRange) {
  std::string batch;
  AppendRangedShardEntry(3, 1000, 2500, "payload", &batch);
  AppendRangedShardEntry(0, 0, std::numeric_limits<uint64_t>::max(),
                         std::string("\0", 1), &batch);
  Entries decoded;
  ASSERT_TRUE(DecodeShardBatch(batch, &decoded).ok());
  ASSERT_EQ(decoded.size(), 2u);
  uint64_t begin = 0, end = 0;
  absl::string_view payload;
  ASSERT_TRUE(SplitRangedPayload(decoded[0].second, &begin, &end, &payload).ok());
  EXPECT_EQ(decoded[0].first, 3u);
  EXPECT_EQ(begin, 1000u);
  EXPECT_EQ(end, 2500u);
  EXPECT_EQ(payload, "payload");
  ASSERT_TRUE(SplitRangedPayload(decoded[1].second, &begin, &end, &payload).ok());
  EXPECT_EQ(end, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(payload, std::string("\0", 1));
}

TEST(ShardBatchCodecTest, APayloadWithoutARangeIsDataLoss) {
  uint64_t begin = 0, end = 0;
  absl::string_view payload;
  EXPECT_EQ(SplitRangedPayload("", &begin, &end, &payload).code(),
            absl::StatusCode::kDataLoss);
  // An empty range is no shard's.
  EXPECT_EQ(SplitRangedPayload("\x05\x05", &begin, &end, &payload).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shardex
