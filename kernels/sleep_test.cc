#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"

namespace shardex {
namespace {

using ::shardex::testing::LocalKernel;

using Clock = std::chrono::steady_clock;

std::unique_ptr<LocalKernel> SleepJob(const std::string& ms) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("sleep", {{"ms", ms}});
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

TEST(SleepKernelTest, DomainIsTasks) {
  std::unique_ptr<LocalKernel> job = SleepJob("5");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->domain().kind, Domain::Kind::kTasks);
}

TEST(SleepKernelTest, SleepsAtLeastTheRequestedTime) {
  std::unique_ptr<LocalKernel> job = SleepJob("40");
  ASSERT_NE(job, nullptr);
  const auto start = Clock::now();
  absl::StatusOr<std::string> r = job->RunShard({0, 1});
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "1");
  EXPECT_GE(elapsed, std::chrono::milliseconds(40));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(SleepKernelTest, ZeroMsReturnsImmediately) {
  std::unique_ptr<LocalKernel> job = SleepJob("0");
  ASSERT_NE(job, nullptr);
  const auto start = Clock::now();
  absl::StatusOr<KernelResult> r = testing::RunJob(*job, 100);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_EQ(r->value, "100");
}

TEST(SleepKernelTest, ReduceCountsShards) {
  std::unique_ptr<LocalKernel> job = SleepJob("5");
  ASSERT_NE(job, nullptr);
  absl::StatusOr<KernelResult> r = testing::RunJob(*job, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, "3");
  EXPECT_EQ(r->details.at("ms"), "5");
  EXPECT_EQ(r->details.at("summary"), "slept 3 shards of 5 ms");
}

TEST(SleepKernelTest, ReduceRejectsPayloadsOtherThanOne) {
  std::unique_ptr<LocalKernel> job = SleepJob("5");
  ASSERT_NE(job, nullptr);
  const std::vector<std::string> two = {"1", "2"};
  EXPECT_EQ(job->Reduce(two).status().message(),
            "payload of sleep shard 1 is 2, expected 1");
  const std::vector<std::string> zero = {"0", "1"};
  EXPECT_EQ(job->Reduce(zero).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job->Reduce({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SleepKernelTest, CancelInterruptsAnHourLongSleep) {
  std::unique_ptr<LocalKernel> job = SleepJob("3600000");
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelStopsALongShard(
      job->runner(), {7, 8}, absl::Milliseconds(30), absl::Seconds(5));
}

TEST(SleepKernelTest, CancelledBeforeStartingReturnsCancelled) {
  std::unique_ptr<LocalKernel> job = SleepJob("1000");
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, 1});
}

TEST(SleepKernelTest, RunShardRejectsMoreThanOneTask) {
  std::unique_ptr<LocalKernel> job = SleepJob("0");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->RunShard({0, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SleepKernelTest, MsMustBeWithinAnHour) {
  EXPECT_NE(SleepJob("3600000"), nullptr);
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("sleep", {{"ms", "3600001"}});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(),
            "--ms must be between 0 and 3600000, got 3600001");
  job = LocalKernel::Create("sleep", {});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().message(),
            "missing required argument --ms for kernel sleep");
}

}  // namespace
}  // namespace shardex
