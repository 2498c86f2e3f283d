// Scheduler: the coordinator's job and scheduling logic, in plain C++.
//
// It accepts jobs, splits them into shards, hands shards to connected
// workers by free slots (max-min fair across running jobs), takes results,
// retries failed attempts, re-queues the work of workers that leave or miss
// heartbeats, and reduces each job's payloads into its answer. The gRPC
// layer (coordinator/service.cc, coordinator/worker_gateway.cc) only
// translates messages into these calls.
//
// Feeding workers: a worker holds at most `slots` attempts while a job's
// shards are long, so no shard waits behind another on a busy worker while
// an idle one could run it. When shards are short (a running average of
// their run time), each worker is fed up to `prefetch_window` of work ahead,
// so trivial shards stream in large batches without a round trip each.
//
// Thread-safety: every public method may be called from any thread. One
// mutex guards all state; messages to workers are collected under it and
// sent after it is released, and Reduce runs outside it.
#ifndef SHARDEX_COORDINATOR_SCHEDULER_H_
#define SHARDEX_COORDINATOR_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "command/command_job.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "coordinator/job.h"
#include "coordinator/worker_link.h"
#include "proto/shardex.pb.h"

namespace shardex {

class Scheduler {
 public:
  struct Options {
    uint64_t max_shards_per_job = 10'000'000;
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
  };

  // Called outside the lock after a job changes; `terminal` when it ended.
  using JobListener = std::function<void(uint64_t job_id, bool terminal)>;

  Scheduler(Options options, Clock* clock);

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Set once, before any other call.
  void SetJobListener(JobListener listener);

  // ---- Client calls.
  // Validates the spec (kernel, args, shard count) and queues the job.
  absl::StatusOr<shardex::v1::JobStatus> Submit(shardex::v1::JobSpec spec);
  absl::StatusOr<shardex::v1::JobStatus> GetJob(uint64_t job_id) const;
  absl::StatusOr<shardex::v1::JobStatus> Cancel(uint64_t job_id);
  std::vector<shardex::v1::JobStatus> ListJobs() const;
  std::vector<shardex::v1::WorkerInfo> ListWorkers() const;

  // ---- Worker calls, from the transport.
  // Registers a worker whose messages go to `link`; returns its id.
  absl::StatusOr<uint64_t> AddWorker(const shardex::v1::Register& reg,
                                     std::string peer,
                                     std::shared_ptr<WorkerLink> link);
  // The worker's stream ended: its running attempts go back to the queue.
  void RemoveWorker(uint64_t worker_id);
  absl::Status OnResults(uint64_t worker_id,
                         const shardex::v1::ResultBatch& batch);
  void OnHeartbeat(uint64_t worker_id);

  // Drops workers that missed heartbeats for heartbeat_timeout. The owner
  // calls it a few times a second.
  void Tick();

 private:
  // An attempt a worker holds.
  struct Held {
    uint32_t attempt = 0;
    bool command = false;  // in a process slot rather than a thread slot
  };

  struct Worker {
    uint64_t id = 0;
    shardex::v1::Register reg;
    std::string peer;
    std::shared_ptr<WorkerLink> link;
    // (job, shard) -> attempt, for attempts this worker holds.
    absl::flat_hash_map<std::pair<uint64_t, uint64_t>, Held> running;
    uint64_t running_commands = 0;  // of `running`, those of command jobs
    absl::flat_hash_set<uint64_t> jobs_sent;  // JobDefinitions it has
    absl::Time connected;
    absl::Time last_seen;
    uint64_t completed = 0;
  };

  // Messages to send once the lock is released.
  using Outbox = std::vector<
      std::pair<std::shared_ptr<WorkerLink>, shardex::v1::CoordinatorMessage>>;

  // A shard output to write to a job's --output directory.
  struct PartWrite {
    std::string dir;
    uint64_t shard = 0;
    std::string data;
  };

  // Work found under the lock, done outside it.
  struct Effects {
    Outbox outbox;
    std::vector<PartWrite> parts;
    std::vector<uint64_t> to_reduce;
    std::vector<std::pair<uint64_t, bool>> changed;  // (job, terminal)
  };

  // Gives absent random_if_absent kernel arguments (seeds) a value.
  void FillRandomArgs(shardex::v1::JobSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);
  Job* FindJob(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t TotalSlots() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t Capacity(const Job& job, const Worker& w) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Job* PickJobFor(const Worker& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dispatch(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptResult(Worker& w, const shardex::v1::ShardResult& r,
                    Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a running shard back in the queue, or fails the job when the
  // shard's failure budget is spent.
  void Requeue(Job& job, uint64_t shard, bool count_failure,
               const std::string& error, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a job (failed or cancelled): cancels its queued and running shards.
  void EndJob(Job& job, shardex::v1::JobState state, std::string error,
              Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropWorker(uint64_t worker_id, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds the job's kernel (or command) and resolves its spec.
  absl::StatusOr<std::shared_ptr<const KernelJob>> Plan(
      shardex::v1::JobSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);
  // Records that `w` holds / no longer holds an attempt.
  void Hold(Worker& w, const Job& job, uint64_t shard, uint32_t attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(Worker& w, uint64_t job_id, uint64_t shard)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Skips the shards a result's Cutoff made unnecessary.
  void ApplyCutoff(Job& job, uint64_t cutoff, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True once every shard has succeeded or been skipped.
  static bool AllShardsDone(const Job& job);

  // Sends, writes parts, starts reductions and notifies; without the lock.
  void Apply(Effects fx) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs on reducer_: the kernel's Reduce and the job's result file.
  void Reduce(uint64_t job_id) ABSL_LOCKS_EXCLUDED(mu_);
  void Notify(const std::vector<std::pair<uint64_t, bool>>& changed);

  // Constant after construction.
  const Options options_;
  Clock* const clock_;
  JobListener listener_;  // set before use

  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);

  mutable absl::Mutex mu_;
  uint64_t next_job_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_worker_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> active_jobs_ ABSL_GUARDED_BY(mu_);  // not terminal
  std::map<uint64_t, Worker> workers_ ABSL_GUARDED_BY(mu_);

  // Reductions (a kernel's Reduce, a --reduce-command, a PNG encoder) and
  // --output writes run here, never on a gRPC thread. Last member: joined
  // first.
  ThreadPool reducer_{1};
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SCHEDULER_H_
