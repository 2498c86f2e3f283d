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
// Claim and Split share one small lock: a claimed chunk is always below
// the end bound, and Split only moves the bound within the unclaimed rest,
// so the attempt covers exactly [begin, end()) and [end(), old end) is
// never touched. The lock is a one-byte spin lock, not an absl::Mutex: a
// worker makes one ShardControl per attempt (a million per second of
// trivial shards), its critical sections are a few instructions and almost
// never contended, and an absl::Mutex in Debian's (debug-mode) Abseil
// registers itself in a global deadlock graph on its first lock and again
// on destruction, which cost more than the shard. kTasks kernels (one task
// per shard) never split and may ignore the bound; they only poll
// cancelled().
//
// A thread that waits in poll() rather than polling the flag (a command
// shard's ChildSupervisor) asks for WakeFd(): an eventfd that Cancel()
// makes readable, so it needs no timer to see a cancel in time.
//
// Thread-safety: all methods are safe from any thread (the kernel's thread
// claims, the worker's threads cancel and split), except WakeFd: only the
// thread that runs the attempt calls it.
#ifndef SHARDEX_KERNELS_SHARD_CONTROL_H_
#define SHARDEX_KERNELS_SHARD_CONTROL_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
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

  ~ShardControl();
  ShardControl(const ShardControl&) = delete;
  ShardControl& operator=(const ShardControl&) = delete;

  // Asks the kernel to stop; it returns CANCELLED at its next poll. Makes
  // WakeFd() readable if it was asked for.
  void Cancel();
  bool cancelled() const { return cancel_.load(); }
  // The flag itself, for helpers that take a CancelFlag.
  const CancelFlag& cancel_flag() const { return cancel_; }
  // An eventfd, owned by this object, that is readable once Cancel() has
  // been called (also if that was before this call): made on the first
  // call. -1 if it cannot be made; then only the flag tells.
  int WakeFd();

  // Takes the next chunk [pos, min(pos + max_size, end)) and records it as
  // claimed; nullopt once pos >= end (the range is done, or was split
  // there). max_size must be at least 1.
  std::optional<ShardRange> Claim(uint64_t pos, uint64_t max_size)
      ABSL_LOCKS_EXCLUDED(lock_);

  // Moves the end bound to at = claimed + floor(keep * (end - claimed)),
  // where `claimed` is the end of the last chunk taken, and returns it.
  // nullopt (nothing changes) when that leaves no unit on either side:
  // at <= claimed or at >= end; also for keep outside (0, 1).
  std::optional<uint64_t> Split(double keep) ABSL_LOCKS_EXCLUDED(lock_);

  // The current end bound: the attempt's range is [begin, end()).
  uint64_t end() const ABSL_LOCKS_EXCLUDED(lock_);
  // The end of the work claimed so far.
  uint64_t claimed() const ABSL_LOCKS_EXCLUDED(lock_);

 private:
  // Spins (yielding) while another thread holds it: held for a few
  // instructions only.
  class ABSL_LOCKABLE SpinLock {
   public:
    void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
      while (held_.exchange(true, std::memory_order_acquire)) {
        std::this_thread::yield();
      }
    }
    void Unlock() ABSL_UNLOCK_FUNCTION() {
      held_.store(false, std::memory_order_release);
    }

   private:
    std::atomic<bool> held_{false};
  };
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(SpinLock* lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock)
        : lock_(lock) {
      lock_->Lock();
    }
    ~Locked() ABSL_UNLOCK_FUNCTION() { lock_->Unlock(); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    SpinLock* const lock_;
  };

  CancelFlag cancel_{false};
  // -1 until WakeFd() makes it. Cancel() reads it after setting cancel_,
  // WakeFd() reads cancel_ after setting it (both sequentially
  // consistent): one of them, at least, sees the other and writes.
  std::atomic<int> wake_fd_{-1};
  mutable SpinLock lock_;
  uint64_t claimed_end_ ABSL_GUARDED_BY(lock_);
  uint64_t end_ ABSL_GUARDED_BY(lock_);
};

}  // namespace shardex

#endif  // SHARDEX_KERNELS_SHARD_CONTROL_H_
