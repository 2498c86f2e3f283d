// ShardRunner: the worker's side of a kernel. It runs one shard's range of
// the job's Domain and returns the shard's payload, which the coordinator's
// side (KernelJob, kernels/kernel_job.h) reduces. Both are made from the same
// arguments through the registry (kernels/kernel.h).
//
// Thread-safety: a ShardRunner is immutable after creation; the worker runs
// several shards of one job through it at once, from different threads.
#ifndef SHARDEX_KERNELS_SHARD_RUNNER_H_
#define SHARDEX_KERNELS_SHARD_RUNNER_H_

#include <string>

#include "absl/status/statusor.h"
#include "kernels/shard_control.h"
#include "kernels/split.h"

namespace shardex {

class ShardRunner {
 public:
  virtual ~ShardRunner() = default;

  // Runs one shard and returns its partial result, encoded by the kernel.
  // Starts by checking `range` against the job's domain
  // (ValidateShardRange) and must be deterministic: the payload depends only
  // on the job's arguments and the range covered, so a retried shard gives
  // the same bytes.
  //
  // `control` was made for `range` (ShardControl(range)). The kernel polls
  // control.cancelled() between chunks of work (every few milliseconds) and
  // returns CANCELLED. A kRange kernel takes its range through
  // control.Claim (kernels/shard_control.h), so the worker may split the
  // attempt: the payload then covers [range.begin, control.end()) and is
  // byte-identical to an unsplit run over that range.
  virtual absl::StatusOr<std::string> RunShard(ShardRange range,
                                               ShardControl& control) const = 0;

  // Whether RunShard takes its range through control.Claim, so that
  // ShardControl::Split really stops it early. Only kRange kernels can;
  // the worker refuses to split the others.
  virtual bool splittable() const { return false; }
};

// Runs `range` whole: never cancelled, never split (tests, benchmarks).
inline absl::StatusOr<std::string> RunWholeShard(const ShardRunner& runner,
                                                 ShardRange range) {
  ShardControl control(range);
  return runner.RunShard(range, control);
}

}  // namespace shardex

#endif  // SHARDEX_KERNELS_SHARD_RUNNER_H_
