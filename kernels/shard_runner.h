// ShardRunner: the worker's side of a kernel. It runs one shard's range of
// the job's Domain and returns the shard's payload, which the coordinator's
// side (KernelJob, kernels/kernel_job.h) reduces. Both are made from the same
// arguments through the registry (kernels/kernel.h).
//
// Thread-safety: a ShardRunner is immutable after creation; the worker runs
// several shards of one job through it at once, from different threads.
#ifndef SHARDEX_KERNELS_SHARD_RUNNER_H_
#define SHARDEX_KERNELS_SHARD_RUNNER_H_

#include <atomic>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/split.h"

namespace shardex {

// Set by the worker when the coordinator cancels an attempt. Kernels poll it
// between chunks of work (every few milliseconds) and return CANCELLED.
using CancelFlag = std::atomic<bool>;

class ShardRunner {
 public:
  virtual ~ShardRunner() = default;

  // Runs one shard and returns its partial result, encoded by the kernel.
  // Starts by checking `range` against the job's domain
  // (ValidateShardRange) and must be deterministic: the payload depends only
  // on the job's arguments and `range`, so a retried shard gives the same
  // bytes.
  virtual absl::StatusOr<std::string> RunShard(
      ShardRange range, const CancelFlag& cancel) const = 0;
};

}  // namespace shardex

#endif  // SHARDEX_KERNELS_SHARD_RUNNER_H_
