// KernelJob: the coordinator's side of a kernel. It names the job's Domain
// (what the job is split over), reduces the shards' payloads into the answer
// and may cut a search short. It never runs a shard: that is the worker's
// side, ShardRunner (kernels/shard_runner.h). Both are made from the same
// arguments through the registry (kernels/kernel.h).
//
// Thread-safety: a KernelJob is immutable after creation and safe to use
// from many threads at once.
#ifndef SHARDEX_KERNELS_KERNEL_JOB_H_
#define SHARDEX_KERNELS_KERNEL_JOB_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kernels/split.h"

namespace shardex {

// The reduced answer: `value` is what the CLI prints; `details` are extras.
struct KernelResult {
  std::string value;
  std::map<std::string, std::string> details;
};

class KernelJob {
 public:
  virtual ~KernelJob() = default;

  virtual Domain domain() const = 0;
  // Whether a running shard can be told to stop early at a new end
  // (straggler splitting): its ShardRunner takes its range through
  // ShardControl::Claim (ShardRunner::splittable says the same on the
  // worker). The coordinator asks only these kernels to split.
  virtual bool splittable() const { return false; }

  // Combines every shard's payload, given in shard order, into the answer.
  // Must be exact: the same for any shard count or placement. Runs on the
  // coordinator, on a thread of its own.
  virtual absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const = 0;

  // The same for shards of any sizes (adaptive shards, split shards):
  // `ranges[i]` is the range payloads[i] covers; they are in order and
  // tile the domain from its start. The coordinator always calls this.
  // The default ignores the ranges, for kernels whose payloads say all
  // they need; a kernel whose Reduce needs each shard's range overrides it.
  virtual absl::StatusOr<KernelResult> ReduceRanges(
      absl::Span<const std::string> payloads,
      absl::Span<const ShardRange> ranges) const {
    return Reduce(payloads);
  }

  // A payload may show that shards beginning at or above some point are no
  // longer needed (hashsearch found a nonce there). Returning that point
  // makes the coordinator skip those shards (cancelling running ones); Reduce
  // then gets an empty payload for each skipped shard. Must be cheap.
  virtual std::optional<uint64_t> Cutoff(const std::string& payload) const {
    return std::nullopt;
  }
};

}  // namespace shardex

#endif  // SHARDEX_KERNELS_KERNEL_JOB_H_
