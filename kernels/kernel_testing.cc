#include "kernels/kernel_testing.h"

#include <limits>
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
  const CancelFlag not_cancelled{false};
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < shards; ++i) {
    ASSIGN_OR_RETURN(
        std::string payload,
        k.RunShard(ShardRangeOf(domain, shards, i), not_cancelled));
    payloads.push_back(std::move(payload));
  }
  return payloads;
}

absl::StatusOr<KernelResult> RunJob(const LocalKernel& k, uint64_t shards) {
  ASSIGN_OR_RETURN(const std::vector<std::string> payloads,
                   RunAllShards(k, shards));
  return k.Reduce(payloads);
}

void ExpectCancelledBeforeStarting(const ShardRunner& runner,
                                   ShardRange range) {
  const CancelFlag cancelled{true};
  EXPECT_EQ(runner.RunShard(range, cancelled).status().code(),
            absl::StatusCode::kCancelled);
}

void ExpectCancelStopsALongShard(const ShardRunner& runner, ShardRange range,
                                 absl::Duration cancel_after,
                                 absl::Duration limit) {
  CancelFlag cancel{false};
  std::thread canceller([&cancel, cancel_after] {
    absl::SleepFor(cancel_after);
    cancel = true;
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
