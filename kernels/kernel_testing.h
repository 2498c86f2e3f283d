// Test helpers: both sides of a kernel in one process (LocalKernel), runs of
// a whole job the way the coordinator and workers would (split, run every
// shard, reduce), and the cancellation checks every kernel test makes.
//
// Thread-safety: LocalKernel is immutable after Create, like the two sides
// it holds; the free functions keep no state and are safe from any thread.
#ifndef SHARDEX_KERNELS_KERNEL_TESTING_H_
#define SHARDEX_KERNELS_KERNEL_TESTING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "kernels/kernel.h"

namespace shardex {
namespace testing {

// A kernel job's coordinator side (KernelJob) and worker side (ShardRunner),
// made from the same arguments, with the methods of both forwarded so a
// test reads like one job.
class LocalKernel {
 public:
  // CreateKernelJob, then CreateShardRunner; the first error is returned.
  static absl::StatusOr<std::unique_ptr<LocalKernel>> Create(
      const std::string& kernel, const KernelArgs& args);

  const KernelJob& job() const { return *job_; }
  const ShardRunner& runner() const { return *runner_; }

  Domain domain() const { return job_->domain(); }
  absl::StatusOr<std::string> RunShard(ShardRange range,
                                       const CancelFlag& cancel) const {
    return runner_->RunShard(range, cancel);
  }
  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const {
    return job_->Reduce(payloads);
  }
  std::optional<uint64_t> Cutoff(const std::string& payload) const {
    return job_->Cutoff(payload);
  }

 private:
  LocalKernel(std::unique_ptr<KernelJob> job,
              std::unique_ptr<ShardRunner> runner)
      : job_(std::move(job)), runner_(std::move(runner)) {}

  const std::unique_ptr<KernelJob> job_;
  const std::unique_ptr<ShardRunner> runner_;
};

// Validates the shard count, then runs shards 0..shards-1 in order with an
// unset cancel flag and returns their payloads; the first error stops it.
absl::StatusOr<std::vector<std::string>> RunAllShards(const LocalKernel& k,
                                                      uint64_t shards);

// RunAllShards followed by Reduce.
absl::StatusOr<KernelResult> RunJob(const LocalKernel& k, uint64_t shards);

// Expects RunShard(range) with the cancel flag already set to return
// CANCELLED.
void ExpectCancelledBeforeStarting(const ShardRunner& runner, ShardRange range);

// Runs `range`, which must take far longer than `limit`, sets the cancel
// flag `cancel_after` into it, and expects CANCELLED within `limit` of the
// start: the kernel polls its flag between chunks of work.
void ExpectCancelStopsALongShard(const ShardRunner& runner, ShardRange range,
                                 absl::Duration cancel_after,
                                 absl::Duration limit);

}  // namespace testing
}  // namespace shardex

#endif  // SHARDEX_KERNELS_KERNEL_TESTING_H_
