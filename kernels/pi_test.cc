#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"

namespace shardex {
namespace {

using ::shardex::testing::LocalKernel;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::unique_ptr<LocalKernel> PiJob(const KernelArgs& args) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("pi", args);
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

// The generator as docs/kernels.md specifies it, written out independently
// so a change to the kernel's sample stream fails here.
uint64_t SplitMix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

bool SampleInside(uint64_t seed, uint64_t i) {
  const uint64_t key = SplitMix64(seed + 0x9e3779b97f4a7c15);
  const uint64_t r = SplitMix64(key + (i + 1) * 0x9e3779b97f4a7c15);
  const unsigned __int128 x = r >> 33;
  const unsigned __int128 y = r & 0x7fffffff;
  return x * x + y * y < (static_cast<unsigned __int128>(1) << 62);
}

TEST(PiKernelTest, SameAnswerForAnyShardCount) {
  std::unique_ptr<LocalKernel> job =
      PiJob({{"samples", "10000000"}, {"seed", "42"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<KernelResult> one = testing::RunJob(*job, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  for (uint64_t shards : {3, 17}) {
    absl::StatusOr<KernelResult> r = testing::RunJob(*job, shards);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, one->value) << shards << " shards";
    EXPECT_EQ(r->details, one->details) << shards << " shards";
  }
  // 10^7 samples: the standard error is ~5e-4, so 0.01 is 20 sigma.
  EXPECT_NEAR(std::strtod(one->value.c_str(), nullptr), 3.14159265, 0.01);
  EXPECT_EQ(one->details.at("samples"), "10000000");
  EXPECT_EQ(one->details.at("seed"), "42");
}

TEST(PiKernelTest, EachSampleFollowsTheDocumentedGenerator) {
  const uint64_t kSamples = 2000;
  for (uint64_t seed : {uint64_t{0}, uint64_t{7}, kMax}) {
    std::unique_ptr<LocalKernel> job =
        PiJob({{"samples", std::to_string(kSamples)},
               {"seed", std::to_string(seed)}});
    ASSERT_NE(job, nullptr);
    // One shard per sample isolates each sample's contribution.
    absl::StatusOr<std::vector<std::string>> payloads =
        testing::RunAllShards(*job, kSamples);
    ASSERT_TRUE(payloads.ok()) << payloads.status();
    for (uint64_t i = 0; i < kSamples; ++i) {
      ASSERT_EQ((*payloads)[i], SampleInside(seed, i) ? "1" : "0")
          << "seed " << seed << " sample " << i;
    }
  }
}

TEST(PiKernelTest, GoldenValue) {
  // Pins the sample stream: workers and coordinators of different builds
  // must agree. Recompute only on a deliberate, documented change.
  std::unique_ptr<LocalKernel> job =
      PiJob({{"samples", "1000000"}, {"seed", "12345"}});
  ASSERT_NE(job, nullptr);
  uint64_t inside = 0;
  for (uint64_t i = 0; i < 1000000; ++i) inside += SampleInside(12345, i);
  absl::StatusOr<KernelResult> r = testing::RunJob(*job, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->details.at("inside"), std::to_string(inside));
  EXPECT_EQ(r->details.at("inside"), "785099");
  EXPECT_EQ(r->value, "3.1403960000");
}

TEST(PiKernelTest, DifferentSeedsGiveDifferentSamples) {
  std::unique_ptr<LocalKernel> a =
      PiJob({{"samples", "1000000"}, {"seed", "1"}});
  std::unique_ptr<LocalKernel> b =
      PiJob({{"samples", "1000000"}, {"seed", "2"}});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(testing::RunJob(*a, 1).value().details.at("inside"),
            testing::RunJob(*b, 1).value().details.at("inside"));
}

TEST(PiKernelTest, AbsentSeedMeansSeedZero) {
  std::unique_ptr<LocalKernel> absent = PiJob({{"samples", "100000"}});
  std::unique_ptr<LocalKernel> zero =
      PiJob({{"samples", "100000"}, {"seed", "0"}});
  std::unique_ptr<LocalKernel> one =
      PiJob({{"samples", "100000"}, {"seed", "1"}});
  ASSERT_NE(absent, nullptr);
  ASSERT_NE(zero, nullptr);
  ASSERT_NE(one, nullptr);
  const KernelResult r = testing::RunJob(*absent, 2).value();
  EXPECT_EQ(r.details.at("seed"), "0");
  EXPECT_EQ(r.details, testing::RunJob(*zero, 2).value().details);
  EXPECT_NE(r.details, testing::RunJob(*one, 2).value().details);
}

TEST(PiKernelTest, EstimateIsFormattedExactlyAndRoundedHalfUp) {
  struct Case {
    uint64_t samples;
    std::string inside;
    std::string value;
  };
  for (const Case& c : std::vector<Case>{
           {1, "1", "4.0000000000"},
           {1, "0", "0.0000000000"},
           {3, "2", "2.6666666667"},
           {3, "1", "1.3333333333"},
           {80000000000, "1", "0.0000000001"},   // exactly 0.00000000005
           {160000000000, "1", "0.0000000000"},  // 0.000000000025
           {kMax, "18446744073709551615", "4.0000000000"},
           {kMax, "14488038916154245685", "3.1415926536"},
       }) {
    std::unique_ptr<LocalKernel> job =
        PiJob({{"samples", std::to_string(c.samples)}});
    ASSERT_NE(job, nullptr);
    const std::vector<std::string> payloads = {c.inside};
    absl::StatusOr<KernelResult> r = job->Reduce(payloads);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, c.value) << c.inside << "/" << c.samples;
  }
}

TEST(PiKernelTest, ReduceRejectsMoreInsideThanSamples) {
  std::unique_ptr<LocalKernel> job = PiJob({{"samples", "10"}});
  ASSERT_NE(job, nullptr);
  const std::vector<std::string> payloads = {"6", "5"};
  EXPECT_EQ(job->Reduce(payloads).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PiKernelTest, CancelledBeforeStartingReturnsCancelled) {
  std::unique_ptr<LocalKernel> job = PiJob({{"samples", "1000"}});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, 1000});
}

TEST(PiKernelTest, CancelStopsALongShard) {
  // 2^62 samples would take centuries.
  std::unique_ptr<LocalKernel> job = PiJob({{"samples", "2^62"}});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelStopsALongShard(job->runner(), {0, uint64_t{1} << 62},
                                       absl::Milliseconds(30),
                                       absl::Seconds(5));
}

TEST(PiKernelTest, RejectsBadArguments) {
  struct Case {
    KernelArgs args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"samples", "0"}}, "--samples must be at least 1, got 0"},
           {{{"seed", "1"}},
            "missing required argument --samples for kernel pi"},
           {{{"samples", "10"}, {"seed", "-1"}},
            "--seed: '-1' is not a non-negative integer"},
           {{{"samples", "1e20"}},
            "--samples: '1e20' exceeds the maximum 18446744073709551615"},
       }) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("pi", c.args);
    ASSERT_FALSE(job.ok()) << c.message;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(job.status().message(), c.message);
  }
}

// Straggler splitting: a sample depends only on its index, so a run split
// at `at` gives what an unsplit run over [0, at) gives, and the two parts
// reduce to the unsplit estimate.
TEST(PiKernelTest, SplitRunCountsExactlyTheSamplesItCovered) {
  const uint64_t samples = uint64_t{1} << 23;
  std::unique_ptr<LocalKernel> job =
      PiJob({{"samples", std::to_string(samples)}, {"seed", "7"}});
  ASSERT_NE(job, nullptr);
  const absl::StatusOr<KernelResult> whole = testing::RunJob(*job, 1);
  ASSERT_TRUE(whole.ok()) << whole.status();
  // Before any claim; within the first 2^20 block; a few blocks in.
  for (const auto& [claimed, keep] : std::vector<std::pair<uint64_t, double>>{
           {0, 0.5}, {12345, 0.1}, {(uint64_t{3} << 20) + 1, 0.7}}) {
    absl::StatusOr<testing::SplitRun> run =
        testing::RunSplitAt(*job, {0, samples}, claimed, keep);
    ASSERT_TRUE(run.ok()) << run.status();
    absl::StatusOr<KernelResult> sum = job->Reduce({run->split, run->rest});
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(sum->value, whole->value);
    EXPECT_EQ(sum->details.at("inside"), whole->details.at("inside"));
  }
}

TEST(PiKernelTest, SplitRacingARunningShardLosesNothing) {
  const uint64_t samples = uint64_t{1} << 25;  // 32 blocks
  std::unique_ptr<LocalKernel> job =
      PiJob({{"samples", std::to_string(samples)}, {"seed", "3"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<testing::RacedSplit> raced =
      testing::RunWithRacingSplit(*job, {0, samples}, 0.5);
  ASSERT_TRUE(raced.ok()) << raced.status();
  const uint64_t at = raced->at.value_or(samples);
  EXPECT_EQ(raced->payload, *job->RunShard({0, at}));
}

}  // namespace
}  // namespace shardex
