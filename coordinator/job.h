// Job: the coordinator's record of one submitted job and its shards.
//
// Shard life cycle (docs/architecture.md has the full diagram):
//
//   QUEUED --assign--> RUNNING --ok result--> SUCCEEDED
//     ^                   |  |
//     +--failure (budget  |  +--last attempt failed--> FAILED
//        left) or worker  |
//        lost ------------+
//   QUEUED/RUNNING --job cancelled or failed--> CANCELLED
//
// A RUNNING shard may have more than one attempt in flight (a speculative
// backup, or an attempt a reconnecting worker still holds); the first
// successful result wins and the others are cancelled.
//
// A Job owns its shards' states and counters and makes their transitions
// (the methods below); which worker holds which attempt, the messages to
// workers and the journal are the Scheduler's.
//
// Thread-safety: none. A Job is owned by the Scheduler and touched only
// under the Scheduler's lock.
#ifndef SHARDEX_COORDINATOR_JOB_H_
#define SHARDEX_COORDINATOR_JOB_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "common/job_state.h"
#include "coordinator/attempt_log.h"
#include "coordinator/range_carver.h"
#include "kernels/kernel.h"
#include "proto/shardex.pb.h"

namespace shardex {

// An absl::Time in 8 bytes (nanoseconds since the Unix epoch; absl::Time
// takes 16), converting both ways implicitly: every queued shard's slot
// has room for one running attempt, so its size counts per shard.
class PackedTime {
 public:
  PackedTime() = default;
  PackedTime(absl::Time t) : unix_ns_(absl::ToUnixNanos(t)) {}  // NOLINT
  operator absl::Time() const { return absl::FromUnixNanos(unix_ns_); }

 private:
  int64_t unix_ns_ = 0;
};

// One attempt of a shard that a worker holds.
struct RunningAttempt {
  uint32_t attempt = 0;
  uint64_t worker_id = 0;
  PackedTime started;
  bool speculative = false;  // a backup twin of a straggler
  // Straggler splitting: asked to stop early (SplitShard) and not answered
  // yet; or it answered that it could not. (Next to `speculative`: in its
  // padding, so an attempt stays 32 bytes.)
  bool split_pending = false;
  bool split_refused = false;
  // Its entry in the job's AttemptLog (AttemptLog::kNotLogged: none).
  uint32_t log_index = AttemptLog::kNotLogged;
};
static_assert(sizeof(RunningAttempt) <= 32, "kept in every shard's slot");

// An adaptive job's shard: the range it covers now (a split shortens it).
struct CarvedShard {
  ShardRange range;
  // Attempts numbered up to this were started before the shard was split
  // and ran a longer range: their results are dropped unless they report
  // the split end as their own (ShardResult.end).
  uint32_t stale_upto = 0;
};

// Why a shard's attempts failed; kept only for shards that failed.
struct ShardHistory {
  // Workers (and their hosts) whose attempts failed, in order.
  std::vector<uint64_t> failed_on;
  std::vector<std::string> failed_hosts;
};

struct ShardSlot {
  shardex::v1::ShardState state = shardex::v1::SHARD_QUEUED;
  uint32_t attempt = 0;   // number of the latest attempt started; 0 = none
  uint32_t failures = 0;  // failed attempts counted against the budget
  // Attempts in flight: usually one; two while a straggler has a backup or
  // a returning worker still runs an old attempt.
  absl::InlinedVector<RunningAttempt, 1> running;
  size_t payload_hash = 0;  // of the accepted payload, once succeeded
  std::unique_ptr<ShardHistory> history;

  bool FailedOn(uint64_t worker_id) const {
    if (history == nullptr) return false;
    for (uint64_t id : history->failed_on) {
      if (id == worker_id) return true;
    }
    return false;
  }
};
// 1M queued shards hold 1M slots (bench/memory.sh).
static_assert(sizeof(ShardSlot) <= 72, "one per shard, queued or not");

// What a status carries. kFull is for GetJob and SubmitJob; kProgress
// (WatchJob updates, ListJobs) leaves out the spec, which may be 256 KiB,
// and keeps `summary`.
enum class JobView { kFull, kProgress };

struct Job {
  uint64_t id = 0;
  shardex::v1::JobSpec spec;  // resolved: shards filled in; client's paths
  // Where this host writes parts, result and _SUCCESS (PlannedJob).
  std::string output_dir;
  // JobDefinition.shared_fs (PlannedJob).
  bool shared_fs = true;
  // Kernel output files kept for the client: kept path -> client's path
  // (PlannedJob), so a result naming its file names the client's.
  std::map<std::string, std::string> client_paths;
  std::string summary;        // one line naming what it runs (JobPlanner)
  std::shared_ptr<const KernelJob> kernel;
  Domain domain;

  shardex::v1::JobState state = shardex::v1::JOB_QUEUED;
  uint64_t total = 0;  // shard count (shards is freed once terminal)
  std::vector<ShardSlot> shards;
  std::vector<std::string> payloads;  // by shard index, once succeeded
  std::deque<uint64_t> queue;         // shard indices ready to assign

  // Adaptive shards (a range job submitted without --shards): shards are
  // cut from `carver` as slots free up, so `total` grows; `carved` holds
  // each shard's range. Empty for jobs with a fixed shard count, whose
  // ranges are ShardRangeOf(domain, total, i).
  bool adaptive = false;
  RangeCarver carver;
  std::vector<CarvedShard> carved;
  uint64_t units_done = 0;  // units in accepted or skipped shards
  uint64_t splits = 0;      // running shards split in two
  // Microseconds per unit of domain by worker (moving average), so a split
  // gives a slow worker a smaller share.
  absl::flat_hash_map<uint64_t, double> cost_by_worker;

  uint64_t running = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t cancelled = 0;
  uint64_t skipped = 0;  // not needed after a Cutoff (kept as CANCELLED)
  uint64_t retries = 0;
  uint64_t discarded_results = 0;  // late or duplicate results dropped
  uint64_t speculative_attempts = 0;
  uint64_t result_mismatches = 0;
  std::string mismatch;  // the first mismatch, described

  // Per worker, how many different shards of this job failed on it; and
  // the workers that failed too many (SchedulerOptions::quarantine_after).
  absl::flat_hash_map<uint64_t, uint32_t> failures_by_worker;
  absl::flat_hash_set<uint64_t> quarantined;

  // Shard run times in quarter-octave buckets: the median drives
  // speculation.
  static constexpr int kRuntimeBuckets = 160;
  std::array<uint32_t, kRuntimeBuckets> runtime_hist{};
  uint64_t runtime_samples = 0;

  // Exponential moving average of shard run time; negative until the first
  // result. Drives how far ahead workers are fed (placement::Capacity).
  double avg_runtime_us = -1;

  absl::Time submit_time;
  absl::Time start_time = absl::InfinitePast();
  absl::Time end_time = absl::InfinitePast();
  shardex::v1::JobResult result;
  std::string error;

  bool reducing = false;  // all shards done; Reduce runs outside the lock
  // Ended, with its end record on its way to the journal: until that
  // commit is durable, clients see the job in its state before the end
  // (Scheduler::ClientStatus), since a crash now would run it again.
  bool end_syncing = false;
  shardex::v1::JobState state_before_end = shardex::v1::JOB_QUEUED;
  bool is_command = false;
  // Shards whose range begins at or above this are not needed (Cutoff).
  uint64_t cutoff = UINT64_MAX;

  // Bytes this job holds in the coordinator's memory: its spec, accepted
  // payloads while it runs, then its result or error (Retention).
  uint64_t held_bytes = 0;
  uint64_t spec_bytes = 0;  // the resolved spec, serialized

  // The idempotency key the client sent with the submit, if any.
  std::string request_id;
  // The shard log: every attempt, in start order. Kept after the job
  // ends, until the job is forgotten; journaled with the job's end.
  AttemptLog attempts;

  // Set for jobs that ended before a coordinator restart: their status as
  // journaled, returned by Status() as is.
  std::optional<shardex::v1::JobStatus> archived;

  bool terminal() const { return IsTerminal(state); }
  // True once every shard has succeeded or been skipped (and, for an
  // adaptive job, nothing is left to carve).
  bool AllShardsDone() const {
    return succeeded + skipped == total && carver.empty();
  }
  // The range `shard` covers now.
  ShardRange RangeOf(uint64_t shard) const;
  // Adaptive jobs: adds a QUEUED shard covering `range` (at the front of
  // the queue if `first`); returns its index.
  uint64_t AddShard(ShardRange range, bool first);
  // Adaptive jobs: whether a result of `attempt` of `shard` that reports
  // `end` (0: the end it was given) covers exactly the shard's range.
  // Always true for other jobs when `end` is 0.
  bool CoversRange(uint64_t shard, uint32_t attempt, uint64_t end) const;
  // Adaptive jobs: the running attempt of `shard` that was asked to split
  // now stops at `at`; [at, old end) becomes a new QUEUED shard at the
  // front of the queue, whose index is returned. Every attempt started so
  // far ran the old range: only one that reports `at` as its end counts
  // (CoversRange); the caller cancels the others.
  uint64_t SplitShard(uint64_t shard, uint64_t at);

  void RecordRuntime(uint64_t us);
  // An upper estimate of the median shard run time; zero with no samples.
  absl::Duration MedianRuntime() const;

  // ---- Shard transitions (the diagram above).
  // Starts a new attempt of `shard` on `worker_id`; returns its number.
  uint32_t StartAttempt(uint64_t shard, uint64_t worker_id, absl::Time now,
                        bool speculative);
  // Takes on an attempt a (re)connecting worker still runs. `shard` is
  // QUEUED or RUNNING.
  void AdoptAttempt(uint64_t shard, uint32_t attempt, uint64_t worker_id,
                    absl::Time now);
  // Forgets that `worker_id` runs `attempt` of `shard` (nullopt: whichever
  // it runs); returns that attempt, or nullopt if it ran none.
  std::optional<RunningAttempt> EndAttempt(uint64_t shard, uint64_t worker_id,
                  std::optional<uint32_t> attempt);
  // Puts a shard whose attempts all ended back at the front of the queue.
  void Requeue(uint64_t shard);
  // Accepts `payload` as the shard's result (QUEUED or RUNNING), after the
  // caller cancelled the shard's other attempts.
  void AcceptPayload(uint64_t shard, const std::string& payload,
                     uint64_t runtime_us);
  // Skips the unfinished shards whose range begins at or above `cutoff`;
  // returns the attempts they still ran, (shard, attempt), to cancel.
  std::vector<std::pair<uint64_t, RunningAttempt>> SkipFrom(uint64_t cutoff);
  // Marks every queued or running shard CANCELLED (the job ends).
  void CancelUnfinished();
  // Frees what an ended job no longer needs (shards, payloads, kernel);
  // returns the bytes it still holds (spec, result, error, shard log).
  uint64_t Archive();

  // A snapshot for clients.
  shardex::v1::JobStatus Status(JobView view = JobView::kFull) const;
};

using JobMap = std::map<uint64_t, Job>;

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_JOB_H_
