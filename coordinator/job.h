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
// Thread-safety: none. A Job is owned by the Scheduler and touched only
// under the Scheduler's lock.
#ifndef SHARDEX_COORDINATOR_JOB_H_
#define SHARDEX_COORDINATOR_JOB_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/job_state.h"
#include "kernels/kernel.h"
#include "proto/shardex.pb.h"

namespace shardex {

struct ShardSlot {
  shardex::v1::ShardState state = shardex::v1::SHARD_QUEUED;
  uint32_t attempt = 0;   // number of the latest attempt started; 0 = none
  uint32_t failures = 0;  // failed attempts counted against the budget
  uint64_t worker_id = 0; // holder of the running attempt
};

struct Job {
  uint64_t id = 0;
  shardex::v1::JobSpec spec;  // resolved: shards filled in
  std::shared_ptr<const KernelJob> kernel;
  Domain domain;

  shardex::v1::JobState state = shardex::v1::JOB_QUEUED;
  std::vector<ShardSlot> shards;
  std::vector<std::string> payloads;  // by shard index, once succeeded
  std::deque<uint64_t> queue;         // shard indices ready to assign

  uint64_t running = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t cancelled = 0;
  uint64_t skipped = 0;  // not needed after a Cutoff (kept as CANCELLED)
  uint64_t retries = 0;
  uint64_t discarded_results = 0;  // late or duplicate results dropped

  // Exponential moving average of shard run time; negative until the first
  // result. Drives how far ahead workers are fed (see Scheduler).
  double avg_runtime_us = -1;

  absl::Time submit_time;
  absl::Time start_time = absl::InfinitePast();
  absl::Time end_time = absl::InfinitePast();
  shardex::v1::JobResult result;
  std::string error;

  bool reducing = false;  // all shards done; Reduce runs outside the lock
  bool is_command = false;
  // Shards whose range begins at or above this are not needed (Cutoff).
  uint64_t cutoff = UINT64_MAX;

  bool terminal() const { return IsTerminal(state); }

  // A snapshot for clients.
  shardex::v1::JobStatus Status() const;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_JOB_H_
