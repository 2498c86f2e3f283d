// ShardControl: chunks are claimed below the end bound, a split moves the
// bound only within the unclaimed rest, and concurrent claims and splits
// never let a chunk cross the final end.
#include "kernels/shard_control.h"

#include <poll.h>

#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(ShardControlTest, ClaimsChunksUpToTheEnd) {
  ShardControl c(ShardRange{10, 25});
  EXPECT_EQ(c.claimed(), 10u);
  std::optional<ShardRange> a = c.Claim(10, 10);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->begin, 10u);
  EXPECT_EQ(a->end, 20u);
  std::optional<ShardRange> b = c.Claim(20, 10);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->end, 25u);  // cut at the end
  EXPECT_FALSE(c.Claim(25, 10).has_value());
  EXPECT_EQ(c.claimed(), 25u);
  EXPECT_EQ(c.end(), 25u);
}

TEST(ShardControlTest, SplitKeepsAShareOfTheUnclaimedRest) {
  ShardControl c(ShardRange{0, 100});
  ASSERT_TRUE(c.Claim(0, 20).has_value());
  // 20 + floor(0.5 * 80)
  EXPECT_EQ(c.Split(0.5), std::optional<uint64_t>(60));
  EXPECT_EQ(c.end(), 60u);
  std::optional<ShardRange> next = c.Claim(20, 100);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->end, 60u);  // never past the new end
  EXPECT_FALSE(c.Claim(60, 100).has_value());
}

TEST(ShardControlTest, SplitBeforeAnyClaimCountsFromBegin) {
  ShardControl c(ShardRange{1000, 2000});
  EXPECT_EQ(c.Split(0.25), std::optional<uint64_t>(1250));
  EXPECT_EQ(c.Split(0.5), std::optional<uint64_t>(1125));  // again, smaller
}

TEST(ShardControlTest, RefusesSplitsThatLeaveNothingOnASide) {
  ShardControl done(ShardRange{0, 10});
  ASSERT_TRUE(done.Claim(0, 10).has_value());
  EXPECT_FALSE(done.Split(0.5).has_value());  // all claimed

  ShardControl one(ShardRange{0, 10});
  ASSERT_TRUE(one.Claim(0, 9).has_value());
  EXPECT_FALSE(one.Split(0.5).has_value());  // floor(0.5 * 1) = 0
  EXPECT_FALSE(one.Split(0.99).has_value());

  ShardControl c(ShardRange{0, 100});
  EXPECT_FALSE(c.Split(0).has_value());
  EXPECT_FALSE(c.Split(1).has_value());
  EXPECT_FALSE(c.Split(-0.5).has_value());
  EXPECT_FALSE(c.Split(1.5).has_value());
  EXPECT_FALSE(c.Split(0.001).has_value());  // floor(0.1) = 0
  EXPECT_EQ(c.end(), 100u);                  // refusals change nothing

  ShardControl three(ShardRange{0, 3});
  EXPECT_EQ(three.Split(0.9999999999999999), std::optional<uint64_t>(2));

  // Ranges beyond a double's 53 bits.
  ShardControl huge(ShardRange{0, UINT64_MAX});
  std::optional<uint64_t> at = huge.Split(0.9999999999999999);
  ASSERT_TRUE(at.has_value());
  EXPECT_LT(*at, UINT64_MAX);
  at = huge.Split(0.5);
  ASSERT_TRUE(at.has_value());
  EXPECT_GT(*at, 0u);
  EXPECT_LT(*at, UINT64_MAX);
}

TEST(ShardControlTest, CancelIsSeenThroughTheFlag) {
  ShardControl c(ShardRange{0, 1});
  EXPECT_FALSE(c.cancelled());
  c.Cancel();
  EXPECT_TRUE(c.cancelled());
  EXPECT_TRUE(c.cancel_flag().load());
}

// One thread claims chunks as a kernel would while another splits again
// and again: the chunks tile [begin, end()) exactly, whatever interleaving
// the scheduler picks, and every successful split lies at or above the
// chunks claimed so far.
// Whether `fd` is readable now.
bool Readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST(ShardControlTest, WakeFdBecomesReadableOnCancel) {
  ShardControl c(ShardRange{0, 10});
  const int fd = c.WakeFd();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(c.WakeFd(), fd);  // one per attempt
  EXPECT_FALSE(Readable(fd));
  c.Cancel();
  EXPECT_TRUE(Readable(fd));
  EXPECT_TRUE(Readable(fd));  // and stays so: nothing reads it
}

TEST(ShardControlTest, WakeFdAskedForAfterTheCancelIsReadableAtOnce) {
  ShardControl c(ShardRange{0, 10});
  c.Cancel();
  const int fd = c.WakeFd();
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(Readable(fd));
}

TEST(ShardControlTest, CancelFromAnotherThreadWakesAPoll) {
  ShardControl c(ShardRange{0, 10});
  const int fd = c.WakeFd();
  ASSERT_GE(fd, 0);
  std::thread canceller([&] { c.Cancel(); });
  struct pollfd p = {fd, POLLIN, 0};
  // No timeout: without the write this blocks and the test times out.
  EXPECT_EQ(poll(&p, 1, -1), 1);
  canceller.join();
}

TEST(ShardControlTest, ConcurrentClaimsAndSplitsTileTheFinalRange) {
  for (int round = 0; round < 50; ++round) {
    ShardControl c(ShardRange{0, uint64_t{1} << 40});
    std::vector<ShardRange> chunks;
    std::thread kernel([&] {
      for (uint64_t pos = 0;;) {
        std::optional<ShardRange> chunk = c.Claim(pos, 1 << 20);
        if (!chunk.has_value()) break;
        chunks.push_back(*chunk);
        pos = chunk->end;
      }
    });
    std::vector<uint64_t> splits;
    for (int i = 0; i < 200; ++i) {
      std::optional<uint64_t> at = c.Split(0.5);
      if (at.has_value()) splits.push_back(*at);
    }
    kernel.join();
    const uint64_t end = c.end();
    uint64_t pos = 0;
    for (const ShardRange& r : chunks) {
      ASSERT_EQ(r.begin, pos);
      ASSERT_LT(r.begin, r.end);
      pos = r.end;
    }
    EXPECT_EQ(pos, end);
    for (size_t i = 1; i < splits.size(); ++i) {
      EXPECT_LT(splits[i], splits[i - 1]);  // each split cuts further in
    }
    if (!splits.empty()) EXPECT_EQ(splits.back(), end);
  }
}

}  // namespace
}  // namespace shardex
