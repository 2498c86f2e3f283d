#include "worker/result_linger.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);
constexpr absl::Duration kLinger = absl::Milliseconds(5);
constexpr size_t kMaxBatch = 4;

TEST(ResultLingerTest, ResultWithWorkQueuedWaitsFromTheOldest) {
  ResultLinger linger(kLinger, kMaxBatch);
  linger.Added(1, kT0, /*urgent=*/false);
  EXPECT_FALSE(linger.Urgent(1));
  EXPECT_EQ(linger.DueAt(1), kT0 + kLinger);
  linger.Added(2, kT0 + absl::Milliseconds(3), /*urgent=*/false);
  EXPECT_EQ(linger.DueAt(2), kT0 + kLinger);  // not pushed back
}

TEST(ResultLingerTest, UrgentResultTakesEverythingWaiting) {
  ResultLinger linger(kLinger, kMaxBatch);
  linger.Added(1, kT0, false);
  linger.Added(2, kT0, /*urgent=*/true);
  EXPECT_TRUE(linger.Urgent(2));
  EXPECT_EQ(linger.DueAt(2), absl::InfinitePast());
}

TEST(ResultLingerTest, FullBatchGoesAtOnce) {
  ResultLinger linger(kLinger, kMaxBatch);
  for (size_t n = 1; n < kMaxBatch; ++n) {
    linger.Added(n, kT0, false);
    EXPECT_FALSE(linger.Urgent(n)) << n;
  }
  linger.Added(kMaxBatch, kT0, false);
  EXPECT_TRUE(linger.Urgent(kMaxBatch));
}

TEST(ResultLingerTest, EmptiedOutboxStartsANewLinger) {
  ResultLinger linger(kLinger, kMaxBatch);
  linger.Added(1, kT0, /*urgent=*/true);
  linger.Removed(0);
  const absl::Time later = kT0 + absl::Seconds(1);
  linger.Added(1, later, false);
  EXPECT_FALSE(linger.Urgent(1));
  EXPECT_EQ(linger.DueAt(1), later + kLinger);
}

TEST(ResultLingerTest, LeftoverOfATakenBatchStaysDue) {
  ResultLinger linger(kLinger, kMaxBatch);
  linger.Added(1, kT0, false);
  linger.Added(2, kT0, /*urgent=*/true);
  linger.Removed(1);  // one did not fit the message
  EXPECT_TRUE(linger.Urgent(1));
}

TEST(ResultLingerTest, MarkUrgentFlushes) {
  ResultLinger linger(kLinger, kMaxBatch);
  linger.Added(1, kT0, false);
  linger.MarkUrgent();
  EXPECT_EQ(linger.DueAt(1), absl::InfinitePast());
}

TEST(ResultLingerTest, ZeroLingerSendsEachAtOnce) {
  ResultLinger linger(absl::ZeroDuration(), kMaxBatch);
  linger.Added(1, kT0, false);
  EXPECT_TRUE(linger.Urgent(1));
}

TEST(ResultLingerTest, NothingWaitingIsNeverDueLater) {
  ResultLinger linger(kLinger, kMaxBatch);
  EXPECT_EQ(linger.DueAt(0), absl::InfinitePast());
}

}  // namespace
}  // namespace shardex
