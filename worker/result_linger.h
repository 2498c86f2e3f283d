// ResultLinger: when a worker's writer sends the results waiting in its
// outbox (worker/outbox.h).
//
// Why: every message costs both sides far more than the result in it --
// a gRPC write, wake-ups of a few threads on each side, a dispatch and an
// assignment message back. Sent one by one, results of command shards of a
// few milliseconds made those wake-ups the worker's and the coordinator's
// largest cost (bench/peers.sh). So, as Nagle's algorithm does for small
// TCP segments, results may wait a little for company -- but only while
// waiting costs no slot any time:
//
//   * A result that arrives while the executor still has attempts queued
//     may wait up to `linger` (from the oldest waiting entry): every slot
//     has work, and the coordinator's prefetch (SchedulerOptions::
//     prefetch_window) covers the delay.
//   * A result that arrives while nothing is queued is urgent: a slot is
//     about to go idle, or the job is ending, and the coordinator must hear
//     now. Everything waiting goes with it.
//   * `max_batch` waiting entries go at once (trivial shards fill batches
//     faster than any linger).
//   * Whatever else must go promptly (a split answer the coordinator waits
//     for, results put back after a failed write or held across a new
//     session) is marked urgent by the Worker.
//
// Pure logic: the caller passes the time and the outbox's size.
//
// Thread-safety: none; Worker guards its ResultLinger with its mutex.
#ifndef SHARDEX_WORKER_RESULT_LINGER_H_
#define SHARDEX_WORKER_RESULT_LINGER_H_

#include <cstddef>

#include "absl/time/time.h"

namespace shardex {

class ResultLinger {
 public:
  // `linger` zero: every entry is due at once.
  ResultLinger(absl::Duration linger, size_t max_batch)
      : linger_(linger), max_batch_(max_batch) {}

  // An entry joined the outbox at `now`, which now holds `waiting`;
  // `urgent`: it must not wait.
  void Added(size_t waiting, absl::Time now, bool urgent);
  // Everything waiting must go now.
  void MarkUrgent() { urgent_ = true; }
  // Entries left the outbox (the writer took a message, or a cancel
  // dropped them); `waiting` are left.
  void Removed(size_t waiting);

  // Whether the `waiting` entries must go now, whatever the time.
  bool Urgent(size_t waiting) const;
  // When the `waiting` entries are due: InfinitePast() if now.
  absl::Time DueAt(size_t waiting) const;

 private:
  const absl::Duration linger_;
  const size_t max_batch_;
  absl::Time oldest_ = absl::InfinitePast();  // when the oldest waiting came
  bool urgent_ = false;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_RESULT_LINGER_H_
