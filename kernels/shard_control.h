// ShardControl: what the worker can still change about one running shard
// attempt -- cancel it, or move its end bound down (straggler splitting,
// SplitShard in proto/shardex.proto) -- and how the kernel takes its range
// so that a split never loses or double-counts a unit.
//
// A range kernel takes its range in chunks of a few milliseconds of work:
//
//   for (uint64_t pos = range.begin;;) {
//     if (control.cancelled()) return absl::CancelledError(...);
//     std::optional<ShardRange> chunk = control.Claim(pos, kChunk);
//     if (!chunk) break;           // reached the (possibly split) end
//     ... work on [chunk->begin, chunk->end) ...
//     pos = chunk->end;
//   }
//   // the payload covers [range.begin, control.end())
//
// Claim and Split share one small mutex: a claimed chunk is always below
// the end bound, and Split only moves the bound within the unclaimed rest,
// so the attempt covers exactly [begin, end()) and [end(), old end) is
// never touched. kTasks kernels (one task per shard) never split and may
// ignore the bound; they only poll cancelled().
//
// Thread-safety: all methods are safe from any thread (the kernel's thread
// claims, the worker's threads cancel and split).
#ifndef SHARDEX_KERNELS_SHARD_CONTROL_H_
#define SHARDEX_KERNELS_SHARD_CONTROL_H_

#include <atomic>
#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kernels/split.h"

namespace shardex {

// A bare cancel flag, for code that can be stopped but not split (command
// shards, staging, input readers). ShardControl carries one.
using CancelFlag = std::atomic<bool>;

class ShardControl {
 public:
  // For an attempt over `range`: nothing claimed yet, end = range.end.
  explicit ShardControl(ShardRange range)
      : claimed_end_(range.begin), end_(range.end) {}

  ShardControl(const ShardControl&) = delete;
  ShardControl& operator=(const ShardControl&) = delete;

  // Asks the kernel to stop; it returns CANCELLED at its next poll.
  void Cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }
  // The flag itself, for helpers that take a CancelFlag.
  const CancelFlag& cancel_flag() const { return cancel_; }

  // Takes the next chunk [pos, min(pos + max_size, end)) and records it as
  // claimed; nullopt once pos >= end (the range is done, or was split
  // there). max_size must be at least 1.
  std::optional<ShardRange> Claim(uint64_t pos, uint64_t max_size)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Moves the end bound to at = claimed + floor(keep * (end - claimed)),
  // where `claimed` is the end of the last chunk taken, and returns it.
  // nullopt (nothing changes) when that leaves no unit on either side:
  // at <= claimed or at >= end; also for keep outside (0, 1).
  std::optional<uint64_t> Split(double keep) ABSL_LOCKS_EXCLUDED(mu_);

  // The current end bound: the attempt's range is [begin, end()).
  uint64_t end() const ABSL_LOCKS_EXCLUDED(mu_);
  // The end of the work claimed so far.
  uint64_t claimed() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  CancelFlag cancel_{false};
  mutable absl::Mutex mu_;
  uint64_t claimed_end_ ABSL_GUARDED_BY(mu_);
  uint64_t end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_KERNELS_SHARD_CONTROL_H_
