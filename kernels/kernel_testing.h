// Test helpers: run a KernelJob end to end in one process the way the
// coordinator and workers would (split, run every shard, reduce).
//
// Thread-safety: stateless free functions; safe from any thread.
#ifndef SHARDEX_KERNELS_KERNEL_TESTING_H_
#define SHARDEX_KERNELS_KERNEL_TESTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/kernel.h"

namespace shardex {
namespace testing {

// Validates the shard count, then runs shards 0..shards-1 in order with an
// unset cancel flag and returns their payloads; the first error stops it.
absl::StatusOr<std::vector<std::string>> RunAllShards(const KernelJob& job,
                                                      uint64_t shards);

// RunAllShards followed by Reduce.
absl::StatusOr<KernelResult> RunJob(const KernelJob& job, uint64_t shards);

}  // namespace testing
}  // namespace shardex

#endif  // SHARDEX_KERNELS_KERNEL_TESTING_H_
