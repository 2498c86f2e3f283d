// AttemptLog: one job's shard log, one entry per attempt of a shard, in the
// order the attempts started (like GNU parallel's --joblog). The
// ListAttempts RPC, `shardex status JOB --shards` and the dashboard's task
// stream read it.
//
// Size: an entry is 48 bytes. The worker's host is an index into a small
// table of (worker id, host) per log, and an error is kept only for failed
// attempts, in a side map, cut to its last kMaxErrorBytes (the end of an
// error is where a command's stderr tail is). A log holds at most
// `max_entries` attempts: later ones are not kept, only counted
// (dropped()), so the first attempts of a huge job stay readable.
//
// Durability: Serialize/Parse turn the log into bytes for the journal (a
// ListAttemptsResponse holding every entry), written with the job's end.
//
// Thread-safety: none; owned by a Job, used under the Scheduler's lock.
#ifndef SHARDEX_COORDINATOR_ATTEMPT_LOG_H_
#define SHARDEX_COORDINATOR_ATTEMPT_LOG_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/shardex.pb.h"

namespace shardex {

class AttemptLog {
 public:
  // What Start returns when the log is full: End ignores it.
  static constexpr uint32_t kNotLogged = UINT32_MAX;
  // An error is kept up to this many bytes, its end (a stderr tail).
  static constexpr size_t kMaxErrorBytes = 4096;

  explicit AttemptLog(uint64_t max_entries = 1'000'000)
      : max_entries_(std::min<uint64_t>(max_entries, kNotLogged)) {}

  // Records that `attempt` of `shard` started on the worker; returns its
  // index for End (kNotLogged beyond the cap).
  uint32_t Start(uint64_t shard, uint32_t attempt, uint64_t worker_id,
                 absl::string_view host, absl::Time start, bool speculative);

  // How an attempt ended. Only the first End of an index counts.
  struct Ending {
    shardex::v1::AttemptOutcome outcome = shardex::v1::ATTEMPT_SUCCEEDED;
    absl::Time end;
    uint64_t runtime_us = 0;  // as the worker measured it; 0 if unknown
    std::optional<int32_t> exit_code;
    uint64_t bytes_out = 0;
    absl::string_view error;  // kept for ATTEMPT_FAILED only
  };
  void End(uint32_t index, const Ending& ending);

  // A twin that lost the race was ended CANCELLED with `index`: if its
  // result still comes (Late), it becomes DISCARDED with what it reported.
  void ExpectLate(uint32_t index);
  // The result of (shard, attempt) arrived after its shard was accepted:
  // false if no such ExpectLate entry (nothing changed).
  bool Late(uint64_t shard, uint32_t attempt, absl::Time end,
            uint64_t runtime_us, uint64_t bytes_out);

  // Attempts from `start` on as records: at most max_count of them, and
  // no more than `max_bytes` of records once there is one.
  shardex::v1::ListAttemptsResponse Page(
      uint64_t start, uint32_t max_count,
      uint64_t max_bytes = UINT64_MAX) const;

  // Gives back the spare capacity of a log that will not grow much more
  // (its job ended).
  void ShrinkToFit() { entries_.shrink_to_fit(); }

  uint64_t size() const { return entries_.size(); }
  uint64_t dropped() const { return dropped_; }
  // Memory held, for the job's held bytes (Retention).
  uint64_t bytes() const;

  // For the journal: every entry and the dropped count.
  std::string Serialize() const;
  // The inverse of Serialize; false (log unchanged) on bytes that do not
  // parse.
  bool Parse(absl::string_view bytes);

 private:
  struct Entry {
    uint64_t shard = 0;
    int64_t start_ms = 0;
    uint64_t runtime_us = 0;
    uint32_t attempt = 0;
    uint32_t worker = 0;      // index into workers_
    uint32_t end_delta_ms = 0;  // end - start, saturated; valid when ended
    int32_t exit_code = 0;
    uint32_t bytes_out = 0;     // saturated at 4 GiB
    uint8_t outcome = shardex::v1::ATTEMPT_RUNNING;
    uint8_t flags = 0;          // kSpeculative | kHasExitCode | kEnded
  };
  static_assert(sizeof(Entry) <= 48, "an entry per attempt: keep it small");
  static constexpr uint8_t kSpeculative = 1;
  static constexpr uint8_t kHasExitCode = 2;
  static constexpr uint8_t kEnded = 4;

  uint32_t WorkerIndex(uint64_t worker_id, absl::string_view host);
  shardex::v1::AttemptRecord Record(uint32_t index) const;
  // Appends a record as an entry (Parse).
  void Add(const shardex::v1::AttemptRecord& r);

  uint64_t max_entries_;
  // A vector, not a deque: the log is copied whole when its job ends
  // (Scheduler's journal batch) and a vector's copy is one memcpy; a deque
  // made 1M trivial shards about 35% slower (bench/journal.sh).
  std::vector<Entry> entries_;
  uint64_t dropped_ = 0;
  // (worker id, host) of the workers the attempts ran on.
  std::vector<std::pair<uint64_t, std::string>> workers_;
  absl::flat_hash_map<uint64_t, uint32_t> worker_index_;
  absl::flat_hash_map<uint32_t, std::string> errors_;  // by entry index
  // Twins cancelled because the other won: (shard, attempt) -> index.
  absl::flat_hash_map<std::pair<uint64_t, uint32_t>, uint32_t> late_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_ATTEMPT_LOG_H_
