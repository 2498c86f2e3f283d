// RangeCarver: the part of an adaptive job's domain not yet given to any
// shard, and the rule that sizes the next shard cut from it.
//
// A range job submitted without --shards is not split up front. Each time
// the scheduler needs a shard for a free slot it asks Next(), which cuts
// the front of what remains:
//
//   * before any result, a probe of remaining / (32 x slots) units;
//   * then  min(target / cost, remaining / (2 x slots)): shards of about
//     the target run time while much work remains, and, like guided
//     self-scheduling, shrinking ones near the end so that every slot
//     finishes at about the same time;
//   * never below target / 50 of work (per-shard costs would dominate),
//     nor so small that the job would need more than `max_shards` shards,
//     nor above `max_size` units (Domain::shard_size_hint).
//
// `cost` is microseconds per unit of domain, learned from results
// (Observe). The carved ranges tile the domain in order; after a
// coordinator restart the accepted ranges are Removed and what is left,
// possibly several gaps, is carved again.
//
// Thread-safety: none; owned by a Job, under the Scheduler's lock.
#ifndef SHARDEX_COORDINATOR_RANGE_CARVER_H_
#define SHARDEX_COORDINATOR_RANGE_CARVER_H_

#include <cstdint>
#include <map>
#include <optional>

#include "absl/time/time.h"
#include "kernels/split.h"

namespace shardex {

class RangeCarver {
 public:
  struct Options {
    absl::Duration target = absl::Seconds(1);
    uint64_t max_size = 0;     // units per shard; 0: no limit
    uint64_t max_shards = 0;   // shards the job may have; 0: no limit
  };

  RangeCarver() = default;
  // Everything of [lo, hi) is still to be carved.
  RangeCarver(uint64_t lo, uint64_t hi, Options options);

  bool empty() const { return gaps_.empty(); }
  // Units not yet carved.
  uint64_t remaining() const { return remaining_; }
  // Microseconds of work per unit, or a negative number before any result.
  double cost() const { return cost_; }

  // Takes `r` out (a range already done: recovery). Parts of `r` not
  // uncarved are ignored.
  void Remove(ShardRange r);
  // Drops everything at or above `cutoff`; returns the units dropped.
  uint64_t TruncateAt(uint64_t cutoff);

  // A result: `units` of domain took `runtime_us`.
  void Observe(uint64_t units, uint64_t runtime_us);

  // The size Next() would cut for a cluster of `slots` free-or-busy slots,
  // with `carved` shards cut so far (before clipping to the first gap).
  uint64_t NextSize(uint64_t slots, uint64_t carved) const;
  // Cuts the next shard from the front of the first gap; nullopt if empty.
  std::optional<ShardRange> Next(uint64_t slots, uint64_t carved);

 private:
  Options options_;
  std::map<uint64_t, uint64_t> gaps_;  // begin -> end, disjoint, non-empty
  uint64_t remaining_ = 0;
  double cost_ = -1;
  // Cost is a ratio of sums with exponential forgetting, so a long shard
  // counts for more than a short one and the estimate follows drift.
  double observed_us_ = 0;
  double observed_units_ = 0;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_RANGE_CARVER_H_
