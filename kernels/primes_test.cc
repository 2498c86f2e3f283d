#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <primesieve.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"
#include "kernels/split.h"

namespace shardex {
namespace {

using ::shardex::testing::LocalKernel;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::unique_ptr<LocalKernel> PrimesJob(uint64_t from, uint64_t to) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job = LocalKernel::Create(
      "primes", {{"from", std::to_string(from)}, {"to", std::to_string(to)}});
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

// Independent oracle: trial division.
bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

uint64_t NaiveCount(uint64_t from, uint64_t to) {
  uint64_t count = 0;
  for (uint64_t n = from; n < to; ++n) count += IsPrime(n) ? 1 : 0;
  return count;
}

TEST(PrimesKernelTest, PrimePiOfTenToTheNineForAnyShardCount) {
  std::unique_ptr<LocalKernel> job = PrimesJob(0, 1000000000);
  ASSERT_NE(job, nullptr);
  for (uint64_t shards : {1, 7, 64}) {
    absl::StatusOr<KernelResult> r = testing::RunJob(*job, shards);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, "50847534") << shards << " shards";
    EXPECT_EQ(r->details.at("from"), "0");
    EXPECT_EQ(r->details.at("to"), "1000000000");
  }
}

TEST(PrimesKernelTest, EverySmallRangeMatchesTrialDivision) {
  for (uint64_t from = 0; from <= 40; ++from) {
    for (uint64_t to = from; to <= 40; ++to) {
      std::unique_ptr<LocalKernel> job = PrimesJob(from, to);
      ASSERT_NE(job, nullptr);
      const uint64_t shards =
          std::max<uint64_t>(1, std::min<uint64_t>(3, to - from));
      EXPECT_EQ(testing::RunJob(*job, shards).value().value,
                std::to_string(NaiveCount(from, to)))
          << "[" << from << ", " << to << ") in " << shards << " shards";
    }
  }
}

TEST(PrimesKernelTest, RandomRangesMatchTrialDivision) {
  std::mt19937_64 rng(20240607);  // fixed: failures must reproduce
  for (int trial = 0; trial < 200; ++trial) {
    uint64_t from = rng() % 200000;
    uint64_t to = from + rng() % 5000;
    std::unique_ptr<LocalKernel> job = PrimesJob(from, to);
    ASSERT_NE(job, nullptr);
    const uint64_t width = to - from;
    const uint64_t shards =
        width == 0 ? 1 : 1 + rng() % std::min<uint64_t>(width, 50);
    EXPECT_EQ(testing::RunJob(*job, shards).value().value,
              std::to_string(NaiveCount(from, to)))
        << "[" << from << ", " << to << ") in " << shards << " shards";
  }
}

TEST(PrimesKernelTest, BoundariesAtTheBottom) {
  struct Case {
    uint64_t from, to, count;
  };
  for (const Case& c : std::vector<Case>{{0, 0, 0},
                                         {0, 1, 0},
                                         {0, 2, 0},
                                         {0, 3, 1},
                                         {2, 3, 1},
                                         {3, 3, 0},
                                         {3, 4, 1},
                                         {2, 4, 2},
                                         {4, 5, 0},
                                         {1, 2, 0}}) {
    std::unique_ptr<LocalKernel> job = PrimesJob(c.from, c.to);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(testing::RunJob(*job, 1).value().value, std::to_string(c.count))
        << "[" << c.from << ", " << c.to << ")";
  }
}

TEST(PrimesKernelTest, TopOfTheUint64Range) {
  // The three largest primes below 2^64 are 2^64-59, 2^64-83 and 2^64-95.
  // Sieving up there takes a couple of seconds (primes up to 2^32).
  std::unique_ptr<LocalKernel> job = PrimesJob(kMax - 99, kMax);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(testing::RunJob(*job, 1).value().value, "3");
}

TEST(PrimesKernelTest, ShardsUseOneSieveThread) {
  std::unique_ptr<LocalKernel> job = PrimesJob(0, 1000);
  ASSERT_NE(job, nullptr);
  ASSERT_TRUE(testing::RunJob(*job, 1).ok());
  EXPECT_EQ(primesieve::get_num_threads(), 1);
}

TEST(PrimesKernelTest, CancelledBeforeStartingReturnsCancelled) {
  std::unique_ptr<LocalKernel> job = PrimesJob(0, 1000000);
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, 1000000});
}

TEST(PrimesKernelTest, CancelStopsALongShardBetweenChunks) {
  // Counting [0, 10^13) takes over half an hour on one core.
  std::unique_ptr<LocalKernel> job = PrimesJob(0, 10000000000000);
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelStopsALongShard(job->runner(), {0, 10000000000000},
                                       absl::Milliseconds(50),
                                       absl::Seconds(10));
}

TEST(PrimesKernelTest, RejectsBadArguments) {
  struct Case {
    KernelArgs args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"from", "10"}, {"to", "5"}}, "--from 10 must not exceed --to 5"},
           {{{"from", "3"}},
            "missing required argument --to for kernel primes"},
           {{{"to", "12x"}}, "--to: '12x' is not a non-negative integer"},
           {{{"to", "10"}, {"shards", "2"}},
            "unknown argument --shards for kernel primes"},
       }) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("primes", c.args);
    ASSERT_FALSE(job.ok()) << c.message;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(job.status().message(), c.message);
  }
}

TEST(PrimesKernelTest, DefaultsFromToZeroAndAcceptsPowerForms) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("primes", {{"to", "10^6"}});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->domain().lo, 0u);
  EXPECT_EQ((*job)->domain().hi, 1000000u);
  EXPECT_EQ(testing::RunJob(**job, 3).value().value, "78498");
}

TEST(PrimesKernelTest, RunShardRejectsARangeOutsideTheJob) {
  std::unique_ptr<LocalKernel> job = PrimesJob(100, 200);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->RunShard({50, 150}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job->RunShard({150, 250}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PrimesKernelTest, ReduceRejectsCorruptPayloads) {
  std::unique_ptr<LocalKernel> job = PrimesJob(0, 10);
  ASSERT_NE(job, nullptr);
  const std::vector<std::string> too_many = {"3", "8"};
  EXPECT_EQ(job->Reduce(too_many).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> garbage = {"3", "four"};
  EXPECT_EQ(job->Reduce(garbage).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fine = {"2", "2"};
  EXPECT_EQ(job->Reduce(fine).value().value, "4");
}

// Straggler splitting: a run split at `at` counts exactly [from, at), and
// the two parts add up to the unsplit count.
TEST(PrimesKernelTest, SplitRunCountsExactlyTheRangeItCovered) {
  std::unique_ptr<LocalKernel> job = PrimesJob(0, 2'000'000);
  ASSERT_NE(job, nullptr);
  const absl::StatusOr<KernelResult> whole = testing::RunJob(*job, 1);
  ASSERT_TRUE(whole.ok()) << whole.status();
  // Split before any claim, and after part of the range was claimed.
  for (const auto& [claimed, keep] :
       std::vector<std::pair<uint64_t, double>>{{0, 0.5}, {1000, 0.3}}) {
    absl::StatusOr<testing::SplitRun> run =
        testing::RunSplitAt(*job, {0, 2'000'000}, claimed, keep);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->split, std::to_string(NaiveCount(0, run->at)));
    absl::StatusOr<KernelResult> sum = job->Reduce({run->split, run->rest});
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(sum->value, whole->value);
  }
}

// A split from another thread while the shard runs (several chunks of
// 2^28 numbers): whatever point it lands on, nothing is lost or counted
// twice.
TEST(PrimesKernelTest, SplitRacingARunningShardLosesNothing) {
  const uint64_t to = uint64_t{1} << 30;
  std::unique_ptr<LocalKernel> job = PrimesJob(0, to);
  ASSERT_NE(job, nullptr);
  absl::StatusOr<testing::RacedSplit> raced =
      testing::RunWithRacingSplit(*job, {0, to}, 0.5);
  ASSERT_TRUE(raced.ok()) << raced.status();
  const uint64_t at = raced->at.value_or(to);
  EXPECT_EQ(raced->payload, *job->RunShard({0, at}));
  if (raced->at.has_value()) {
    absl::StatusOr<KernelResult> sum =
        job->Reduce({raced->payload, *job->RunShard({at, to})});
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(sum->value, "54400028");  // pi(2^30)
  }
}

}  // namespace
}  // namespace shardex
