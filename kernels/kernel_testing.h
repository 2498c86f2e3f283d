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
                                       ShardControl& control) const {
    return runner_->RunShard(range, control);
  }
  // The whole range: never cancelled, never split.
  absl::StatusOr<std::string> RunShard(ShardRange range) const {
    return RunWholeShard(*runner_, range);
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

// A run of `range` split at `at`, and unsplit runs of both parts.
struct SplitRun {
  uint64_t at = 0;
  std::string split;  // the split run's payload, covering [begin, at)
  std::string first;  // RunShard([begin, at)) unsplit
  std::string rest;   // RunShard([at, end)) unsplit
};

// Runs `range` as the worker would after a SplitShard(keep) that arrived
// once the kernel had claimed [range.begin, range.begin + claimed): the
// control has that much claimed and is split before the kernel starts, so
// the cut is deterministic. Expects the split to be accepted and the run
// to stop at it; fails the test (and returns the error) otherwise.
absl::StatusOr<SplitRun> RunSplitAt(const LocalKernel& k, ShardRange range,
                                    uint64_t claimed, double keep);

// Runs `range` while another thread splits it (keep) as soon as the
// kernel has claimed its first chunk: a real race. The split may come too
// late (nullopt at, payload for the whole range).
struct RacedSplit {
  std::optional<uint64_t> at;
  std::string payload;
};
absl::StatusOr<RacedSplit> RunWithRacingSplit(const LocalKernel& k,
                                              ShardRange range, double keep);

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
