#include "kernels/kernel_testing.h"

#include <atomic>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "kernels/split.h"

namespace shardex {
namespace testing {

absl::StatusOr<std::unique_ptr<LocalKernel>> LocalKernel::Create(
    const std::string& kernel, const KernelArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<KernelJob> job,
                   CreateKernelJob(kernel, args));
  ASSIGN_OR_RETURN(std::unique_ptr<ShardRunner> runner,
                   CreateShardRunner(kernel, args));
  return std::unique_ptr<LocalKernel>(
      new LocalKernel(std::move(job), std::move(runner)));
}

absl::StatusOr<std::vector<std::string>> RunAllShards(const LocalKernel& k,
                                                      uint64_t shards) {
  const Domain domain = k.domain();
  RETURN_IF_ERROR(
      ValidateShardCount(domain, shards, std::numeric_limits<uint64_t>::max()));
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < shards; ++i) {
    ASSIGN_OR_RETURN(
        std::string payload,
        k.RunShard(ShardRangeOf(domain, shards, i)));
    payloads.push_back(std::move(payload));
  }
  return payloads;
}

absl::StatusOr<KernelResult> RunJob(const LocalKernel& k, uint64_t shards) {
  ASSIGN_OR_RETURN(const std::vector<std::string> payloads,
                   RunAllShards(k, shards));
  return k.Reduce(payloads);
}

absl::StatusOr<SplitRun> RunSplitAt(const LocalKernel& k, ShardRange range,
                                    uint64_t claimed, double keep) {
  ShardControl control(range);
  if (claimed > 0) control.Claim(range.begin, claimed);
  const std::optional<uint64_t> at = control.Split(keep);
  EXPECT_TRUE(at.has_value()) << "split refused";
  if (!at.has_value()) return absl::FailedPreconditionError("split refused");
  SplitRun run;
  run.at = *at;
  ASSIGN_OR_RETURN(run.split, k.RunShard(range, control));
  EXPECT_EQ(control.end(), run.at);
  ASSIGN_OR_RETURN(run.first, k.RunShard({range.begin, run.at}));
  ASSIGN_OR_RETURN(run.rest, k.RunShard({run.at, range.end}));
  EXPECT_EQ(run.split, run.first) << "split at " << run.at;
  return run;
}

absl::StatusOr<RacedSplit> RunWithRacingSplit(const LocalKernel& k,
                                              ShardRange range, double keep) {
  ShardControl control(range);
  RacedSplit raced;
  std::atomic<bool> returned{false};
  std::thread splitter([&] {
    // Waits (without a clock) until the kernel has taken a chunk.
    while (control.claimed() == range.begin && !returned.load()) {
      std::this_thread::yield();
    }
    raced.at = control.Split(keep);
  });
  absl::StatusOr<std::string> payload = k.RunShard(range, control);
  returned.store(true);
  splitter.join();
  if (!payload.ok()) return payload.status();
  raced.payload = *std::move(payload);
  EXPECT_EQ(control.end(), raced.at.value_or(range.end));
  return raced;
}

void ExpectCancelledBeforeStarting(const ShardRunner& runner,
                                   ShardRange range) {
  ShardControl cancelled(range);
  cancelled.Cancel();
  EXPECT_EQ(runner.RunShard(range, cancelled).status().code(),
            absl::StatusCode::kCancelled);
}

void ExpectCancelStopsALongShard(const ShardRunner& runner, ShardRange range,
                                 absl::Duration cancel_after,
                                 absl::Duration limit) {
  ShardControl cancel(range);
  std::thread canceller([&cancel, cancel_after] {
    absl::SleepFor(cancel_after);
    cancel.Cancel();
  });
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> r = runner.RunShard(range, cancel);
  const absl::Duration elapsed = absl::Now() - start;
  canceller.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_LT(elapsed, limit);
}

}  // namespace testing
}  // namespace shardex
