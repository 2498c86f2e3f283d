// Shard arithmetic shared by the coordinator and workers: which part of a
// job's Domain shard i of n covers, how many shards a job may have, and the
// default shard count. Both sides must agree bit for bit, so this is the only
// place the split formula lives, and the Domain and ShardRange types it works
// on are declared here for both sides (kernel_job.h, shard_runner.h).
//
// Thread-safety: pure functions; safe from any thread.
#ifndef SHARDEX_KERNELS_SPLIT_H_
#define SHARDEX_KERNELS_SPLIT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace shardex {

// The integer range a job is split over. Shard i of n covers
// [lo + (hi-lo)*i/n, lo + (hi-lo)*(i+1)/n). A kernel whose shards are
// independent tasks (sleep) uses kTasks: the domain is [0, shards), and
// hi > 0 fixes the shard count at hi (one shard per input file, say).
struct Domain {
  enum class Kind { kRange, kTasks };
  Kind kind = Kind::kRange;
  uint64_t lo = 0;
  uint64_t hi = 0;
  // For kRange: when not 0, the default shard count is about
  // (hi - lo) / shard_size_hint instead of one from the cluster size (e.g.
  // hashsearch wants shards small next to the expected search length).
  uint64_t shard_size_hint = 0;
};

// Half-open range of one shard.
struct ShardRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Shard `index` of `shards` of `d`:
//   kRange: [lo + (hi-lo)*index/shards, lo + (hi-lo)*(index+1)/shards),
//           computed in 128 bits so it cannot overflow. Shard sizes differ
//           by at most one and the shards tile [lo, hi) in order.
//   kTasks: [index, index+1).
// Requires 1 <= shards and index < shards (see ValidateShardCount); any
// other input yields an empty range, which ValidateShardRange rejects.
ShardRange ShardRangeOf(const Domain& d, uint64_t shards, uint64_t index);

// The ranges of shards 0..shards-1 of `d` (ShardRangeOf each): what a
// KernelJob::Reduce without ranges was given shards of.
std::vector<ShardRange> EvenRanges(const Domain& d, uint64_t shards);

// OK if a job over `d` may be split into `shards` shards:
//   * at least 1 and at most `max_shards`;
//   * for kRange, at most max(1, hi-lo), so no shard is empty except the
//     single shard of an empty range ([5, 5) answers with one empty shard).
// Errors are INVALID_ARGUMENT worded for the CLI's --shards flag.
absl::Status ValidateShardCount(const Domain& d, uint64_t shards,
                                uint64_t max_shards);

// The shard count used when the user gives none, for a cluster with
// `cluster_slots` free execution slots:
//   kRange: cluster_slots*4 (so stragglers are rebalanced), clamped to
//           [1, max(1, hi-lo)];
//   kTasks: max(cluster_slots, 1).
// The caller still applies its own maximum.
uint64_t DefaultShardCount(const Domain& d, uint64_t cluster_slots);

// OK if `r` could be a shard of `d`: for kRange, lo <= begin <= end <= hi;
// for kTasks, exactly one task. Kernels check this in RunShard so a bad
// request fails with INVALID_ARGUMENT instead of computing garbage.
absl::Status ValidateShardRange(const Domain& d, ShardRange r);

}  // namespace shardex

#endif  // SHARDEX_KERNELS_SPLIT_H_
