// Retention: what the coordinator keeps on behalf of clients, and when it
// lets go.
//
// It owns the accounting behind the limits on kept state: the bytes every
// kept job holds (specs, per-shard state, payloads, results), the submits
// admitted but not yet jobs, the request ids that make Submit idempotent,
// and the ended jobs in the order they ended. It decides admission
// (CheckAdmission, CheckRoomFor) and which ended jobs to forget
// (TakeJobsToForget: the oldest beyond max_job_records, and the oldest
// while the held bytes exceed max_held_bytes and forgetting can bring them
// under). It only decides: the Scheduler erases the jobs and journals
// kJobForgotten records.
//
// Thread-safety: none. Owned by the Scheduler and used only under its lock.
#ifndef SHARDEX_COORDINATOR_RETENTION_H_
#define SHARDEX_COORDINATOR_RETENTION_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "coordinator/job.h"
#include "coordinator/scheduler_options.h"

namespace shardex {

class Retention {
 public:
  // `options` outlives the Retention.
  explicit Retention(const SchedulerOptions& options);

  // ---- Admission.
  // RESOURCE_EXHAUSTED naming the limit and its flag when `active_jobs`
  // (queued or running) plus the submits in progress reach
  // max_jobs_in_flight, or a spec of `spec_bytes` would go beyond
  // max_held_bytes.
  absl::Status CheckAdmission(uint64_t active_jobs, uint64_t spec_bytes) const;
  // RESOURCE_EXHAUSTED if a job of `shards` shards, holding `needed` bytes
  // (JobPlanner::HeldBytesEstimate), does not fit under max_held_bytes.
  absl::Status CheckRoomFor(uint64_t shards, uint64_t needed) const;

  // ---- Submits in progress and request ids.
  // The job a request id made; 0 while its first submit is in progress.
  std::optional<uint64_t> FindRequest(const std::string& request_id) const;
  // An admitted submit: counts as in flight until Unreserve or Bind.
  void Reserve(const std::string& request_id);
  // The submit made no job.
  void Unreserve(const std::string& request_id);
  // The submit made job `job_id`.
  void Bind(const std::string& request_id, uint64_t job_id);
  // A job recovered from the journal answers its request id.
  void Recovered(const std::string& request_id, uint64_t job_id);

  // ---- Held bytes.
  // Sets the bytes `job` holds, keeping the total in step.
  void SetHeld(Job& job, uint64_t bytes);
  uint64_t held_bytes() const { return held_bytes_; }

  // ---- Ended jobs.
  // `job` ended and holds job.held_bytes from now on.
  void MarkEnded(const Job& job);
  // The ended jobs to forget now, oldest first, never `keep`. They are no
  // longer counted: the caller must erase them.
  std::vector<uint64_t> TakeJobsToForget(uint64_t keep = 0);

 private:
  struct Ended {
    uint64_t job_id = 0;
    uint64_t held_bytes = 0;
    std::string request_id;
  };

  // Stops counting an ended job and drops its request id.
  void Forget(const Ended& ended);

  const SchedulerOptions& options_;
  // Submits admitted and not yet jobs (they count as in flight).
  uint64_t submits_in_progress_ = 0;
  // Submit request ids -> job ids; 0 while that submit is in progress.
  absl::flat_hash_map<std::string, uint64_t> requests_;
  // Sum of every kept job's held_bytes; of it, what ended jobs hold.
  uint64_t held_bytes_ = 0;
  uint64_t ended_held_bytes_ = 0;
  // Ended jobs still kept, in the order they ended.
  std::deque<Ended> ended_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_RETENTION_H_
