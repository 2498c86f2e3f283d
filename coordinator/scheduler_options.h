// SchedulerOptions: what a coordinator's Scheduler and its parts
// (JobPlanner, Placement, Retention, WorkerTable) are configured with. The
// coordinator's flags fill it in cli/main.cc; libraries never read flags.
// Scheduler::Options is another name for it.
//
// Thread-safety: a plain value; the Scheduler keeps a const copy.
#ifndef SHARDEX_COORDINATOR_SCHEDULER_OPTIONS_H_
#define SHARDEX_COORDINATOR_SCHEDULER_OPTIONS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "command/command_job.h"

namespace shardex {

struct SchedulerOptions {
  uint64_t max_shards_per_job = 1'000'000;
  uint32_t max_attempts = 3;  // per shard, counting failures only
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration heartbeat_timeout = absl::Seconds(3);
  // How much work, by average shard run time, a worker may hold beyond
  // its slots; and a cap on those extra attempts.
  absl::Duration prefetch_window = absl::Milliseconds(20);
  uint64_t max_prefetch = 8192;
  // Command jobs run user programs on workers: refused unless true.
  bool allow_commands = false;
  CommandPolicy commands;

  // Backup attempts for stragglers: once `after` of a job's shards are
  // done and none is waiting, a shard whose only attempt has run longer
  // than max(min_runtime, slowdown x the median shard time) gets a twin
  // on a worker with a free slot.
  struct Speculation {
    bool enabled = true;
    double after = 0.75;
    double slowdown = 3.0;
    absl::Duration min_runtime = absl::Seconds(1);
  };
  Speculation speculation;
  // A worker on which this many different shards of a job failed gets no
  // more of that job's shards, while another worker can take them.
  uint32_t quarantine_after = 3;

  // ---- Limits (docs/operations.md, "Limits"): what the coordinator
  // holds on behalf of clients and workers. Each has a coordinator flag.
  // Jobs queued or running, counting submits being planned (--max-jobs).
  uint64_t max_jobs_in_flight = 1000;
  // Ended jobs kept for status queries and request-id retries; older
  // ones are forgotten (--max-job-records). At least 1.
  uint64_t max_job_records = 10000;
  // A submitted JobSpec, serialized (--max-spec-bytes).
  uint64_t max_spec_bytes = 256 << 10;
  // One shard's result payload, and a job's reduced result
  // (--max-result-bytes). Also caps a command's --max-output.
  uint64_t max_result_bytes = 32 << 20;
  // What the kept jobs hold in memory: specs, per-shard state of
  // unfinished jobs (about 120 bytes a shard), accepted payloads and
  // results. A submit that would go beyond it is refused, and the oldest
  // ended jobs are forgotten to stay under it (--max-held-bytes).
  // Running jobs still finish. The default fits one job of the default
  // max_shards_per_job.
  uint64_t max_held_bytes = uint64_t{2} << 30;
  // Concurrent WatchJob streams (--max-watch-streams); the WatchHub
  // enforces it.
  uint64_t max_watch_streams = 1024;
  // Concurrent worker sessions, registered or not
  // (--max-worker-sessions).
  uint64_t max_worker_sessions = 4096;
  // Largest Register.slots and Register.processes a worker may declare.
  uint32_t max_worker_slots = 4096;
  // ListJobs answers with the newest jobs whose statuses fit in this many
  // bytes (a gRPC message holds 64 MiB).
  uint64_t max_list_bytes = 32 << 20;
  // Attempts kept in a job's shard log (ListAttempts); later ones are only
  // counted (ListAttemptsResponse.dropped). About 48 bytes each, held
  // until the job is forgotten.
  uint64_t max_attempt_log = 1'000'000;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SCHEDULER_OPTIONS_H_
