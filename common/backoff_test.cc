#include "common/backoff.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

constexpr BackoffOptions kOptions = {absl::Milliseconds(100),
                                     absl::Milliseconds(1000)};

// Full jitter reaches down to zero: a draw of 0 waits not at all. (The
// formula this replaced, ceiling * uniform(0.5, 1), never went below half
// the ceiling.)
TEST(BackoffTest, LowestDrawWaitsNothing) {
  Backoff backoff(kOptions, [] { return 0.0; });
  for (int i = 0; i < 6; ++i) EXPECT_EQ(backoff.Next(), absl::ZeroDuration());
}

// The top of the range is the ceiling, which doubles per wait up to max.
TEST(BackoffTest, CeilingDoublesUpToTheCap) {
  Backoff backoff(kOptions, [] { return 1.0; });
  const int64_t expected_ms[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t ms : expected_ms) {
    EXPECT_EQ(backoff.ceiling(), absl::Milliseconds(ms));
    EXPECT_EQ(backoff.Next(), absl::Milliseconds(ms));
  }
}

TEST(BackoffTest, WaitIsTheDrawTimesTheCeiling) {
  Backoff backoff(kOptions, [] { return 0.25; });
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(25));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(50));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, ResetStartsOverFromInitial) {
  Backoff backoff(kOptions, [] { return 0.5; });
  backoff.Next();
  backoff.Next();
  backoff.Next();
  backoff.Reset();
  EXPECT_EQ(backoff.ceiling(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(50));
}

TEST(BackoffTest, InitialAboveMaxIsCapped) {
  Backoff backoff({absl::Seconds(10), absl::Seconds(1)}, [] { return 1.0; });
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
}

// The real random source stays inside [0, ceiling) and covers the low half
// too, which the old formula never did.
TEST(BackoffTest, RealDrawsStayInRangeAndReachTheLowHalf) {
  Backoff backoff(kOptions);
  bool low = false;
  for (int i = 0; i < 200; ++i) {
    if (i % 4 == 0) backoff.Reset();
    const absl::Duration ceiling = backoff.ceiling();
    const absl::Duration wait = backoff.Next();
    EXPECT_GE(wait, absl::ZeroDuration());
    EXPECT_LT(wait, ceiling);
    if (wait < ceiling / 2) low = true;
  }
  EXPECT_TRUE(low);
}

}  // namespace
}  // namespace shardex
