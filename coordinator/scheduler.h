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
// Faults: every assignment is an attempt (job, shard, attempt). The first
// successful result of a shard is accepted, whichever attempt sent it; any
// later one is discarded and counted, and compared with the accepted one
// (a difference is reported in the job's status). Failed attempts are
// retried, on another worker where one can take them, up to max_attempts
// failures; a lost or draining worker's attempts are re-queued without
// counting a failure. A worker that fails many different shards of a job is
// quarantined for that job. Near the end of a job, a shard running far
// longer than the median gets a backup attempt on an idle worker
// (speculation, as in MapReduce); the first to finish wins.
//
// Limits: everything a client or worker sends is bounded before it is held
// (Options, "Limits"; docs/operations.md). A submit is checked for size and
// text (NUL bytes) before it is planned, and admitted only while fewer than
// max_jobs_in_flight jobs are queued or running and the bytes the
// coordinator holds for its jobs (specs, accepted payloads, results) are
// under max_held_bytes; otherwise RESOURCE_EXHAUSTED names the limit and
// its flag. A shard result over max_result_bytes fails its attempt instead
// of being held. Ended jobs are forgotten oldest first beyond
// max_job_records, or to make room under max_held_bytes (the journal keeps
// them). Worker sessions are counted and a session that does not Register
// within heartbeat_timeout is closed.
//
// Durability: with a Journal, a job is journaled before Submit returns,
// accepted shard payloads and job ends are journaled as they happen, and
// Recover() rebuilds the state after a restart: accepted shards are not run
// again, and returning workers' attempts are adopted.
//
// Thread-safety: every public method may be called from any thread. One
// mutex guards all state; messages to workers are collected under it and
// sent after it is released, and Reduce and journal waits run outside it.
#ifndef SHARDEX_COORDINATOR_SCHEDULER_H_
#define SHARDEX_COORDINATOR_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
#include "coordinator/journal.h"
#include "coordinator/worker_link.h"
#include "proto/shardex.pb.h"

namespace shardex {

class Scheduler {
 public:
  struct Options {
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
  };

  using SubmitCallback =
      std::function<void(absl::StatusOr<shardex::v1::JobStatus>)>;

  // Called outside the lock after a job changes; `terminal` when it ended.
  using JobListener = std::function<void(uint64_t job_id, bool terminal)>;

  // `journal` may be null (state kept in memory only); else it outlives
  // the scheduler.
  Scheduler(Options options, Clock* clock, Journal* journal = nullptr);

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Set once, before any other call.
  void SetJobListener(JobListener listener);

  const Options& options() const { return options_; }

  // Loads the journal's jobs: ended ones as they ended, unfinished ones
  // resumed with their accepted shards. Call once, before serving.
  absl::Status Recover();

  // ---- Client calls.
  // Validates the spec (sizes, text, kernel, args, shard count), journals
  // the job and queues it. A `request_id` seen before returns that job
  // instead. RESOURCE_EXHAUSTED when a limit (Options) refuses it.
  absl::StatusOr<shardex::v1::JobStatus> Submit(
      shardex::v1::JobSpec spec, const std::string& request_id = "");
  // Submit, with the cheap checks and admission on the caller's thread and
  // the rest (planning may touch the disk) on a scheduler thread. `done`
  // runs on either.
  void SubmitAsync(shardex::v1::JobSpec spec, std::string request_id,
                   SubmitCallback done);
  absl::StatusOr<shardex::v1::JobStatus> GetJob(uint64_t job_id) const;
  absl::StatusOr<shardex::v1::JobStatus> Cancel(uint64_t job_id);
  std::vector<shardex::v1::JobStatus> ListJobs() const;
  std::vector<shardex::v1::WorkerInfo> ListWorkers() const;

  // ---- Worker calls, from the transport.
  // A worker stream opened: RESOURCE_EXHAUSTED beyond max_worker_sessions.
  // Returns a session id for AddWorker and CloseSession. `link` is closed
  // (DEADLINE_EXCEEDED) if no AddWorker names the session within
  // heartbeat_timeout.
  absl::StatusOr<uint64_t> OpenSession(std::shared_ptr<WorkerLink> link);
  // The stream of an OpenSession ended (after RemoveWorker, if it
  // registered).
  void CloseSession(uint64_t session);
  // Registers a worker whose messages go to `link`; returns its id. The
  // attempts it still holds (reg.running) are adopted if still wanted and
  // cancelled otherwise. INVALID_ARGUMENT naming the field for a Register
  // no worker would send. `session`: from OpenSession, or 0.
  absl::StatusOr<uint64_t> AddWorker(const shardex::v1::Register& reg,
                                     std::string peer,
                                     std::shared_ptr<WorkerLink> link,
                                     uint64_t session = 0);
  // The worker's stream ended: its running attempts go back to the queue.
  void RemoveWorker(uint64_t worker_id);
  // Results for unknown jobs, shards or attempts are discarded; a payload
  // over max_result_bytes fails its attempt.
  absl::Status OnResults(uint64_t worker_id,
                         const shardex::v1::ResultBatch& batch);
  void OnHeartbeat(uint64_t worker_id);
  // The worker is shutting down: it gets no new shards, and hands back
  // (results with handed_back) what it will not finish.
  void OnDrain(uint64_t worker_id);

  // Drops workers that missed heartbeats for heartbeat_timeout, closes
  // sessions that did not register in that time, and starts speculative
  // backups. The owner calls it a few times a second.
  void Tick();

  // Waits for everything journaled so far to be durable.
  absl::Status SyncJournal();

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
    bool draining = false;
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
    std::vector<JournalRecord> journal;
  };

  // A session not registered yet: closed if it stays silent too long.
  struct PendingSession {
    absl::Time opened;
    std::shared_ptr<WorkerLink> link;
  };

  // What Admit decides: refused, answered (a retried request id: its job's
  // status), or admitted (nullopt).
  using Admission = absl::StatusOr<std::optional<shardex::v1::JobStatus>>;
  // The cheap checks and admission of a submit. An admitted submit is
  // reserved (it counts as in flight) and must end in SubmitAdmitted.
  Admission Admit(const shardex::v1::JobSpec& spec,
                  const std::string& request_id) ABSL_LOCKS_EXCLUDED(mu_);
  // The answer to a submit whose request id is known: its job's status, or
  // UNAVAILABLE while the first such submit is in progress.
  std::optional<Admission> KnownRequest(const std::string& request_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<shardex::v1::JobStatus> SubmitAdmitted(
      shardex::v1::JobSpec spec, const std::string& request_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a reservation of Admit that made no job.
  void Unreserve(const std::string& request_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the bytes `job` holds (spec, payloads, result), keeping
  // held_bytes_ in step.
  void SetHeld(Job& job, uint64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records that `job` ended, for TrimEndedJobs.
  void MarkEnded(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the oldest ended jobs beyond max_job_records, and while held
  // bytes exceed max_held_bytes and forgetting them can bring it under;
  // never `keep`. No Job reference may be held across it.
  void TrimEndedJobs(uint64_t keep = 0) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Validates a Register before the worker is added.
  absl::Status CheckRegister(const shardex::v1::Register& reg) const;
  // Gives absent random_if_absent kernel arguments (seeds) a value.
  void FillRandomArgs(shardex::v1::JobSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);
  Job* FindJob(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t TotalSlots() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t Capacity(const Job& job, const Worker& w) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Slots of the job's kind (threads or processes) that `w` has free.
  static uint64_t HeldFor(const Job& job, const Worker& w);
  // Whether `w` may run `job` at all: it has slots of the job's kind, is
  // not draining, and is not quarantined for the job while another could
  // run it.
  bool Eligible(const Job& job, const Worker& w) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Quarantined(const Job& job, const Worker& w) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Job* PickJobFor(const Worker& w, const absl::flat_hash_set<uint64_t>& skip)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a queued shard for `w`: not one that already failed on `w` while
  // another worker could take it.
  std::optional<uint64_t> PopShardFor(Job& job, const Worker& w)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dispatch(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts an attempt of `shard` on `w`, adding it to `msg`.
  void StartAttempt(Job& job, uint64_t shard, Worker& w, bool speculative,
                    shardex::v1::CoordinatorMessage& msg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts backups for stragglers of every running job.
  void Speculate(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cancels every attempt of `shard` still in flight (on their workers).
  void CancelAttempts(Job& job, uint64_t shard, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptSuccess(Job& job, uint64_t shard, Worker& w,
                     const shardex::v1::ShardResult& r, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptFailure(Job& job, uint64_t shard, Worker& w,
                     const shardex::v1::ShardResult& r, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adopts (or cancels) an attempt a (re)connecting worker holds.
  void Adopt(Worker& w, const shardex::v1::ShardRef& ref, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frees the memory a terminal job no longer needs.
  void Archive(Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds a resumed job from the journal.
  void Resume(JournaledJob journaled, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptResult(Worker& w, const shardex::v1::ShardResult& r,
                    Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a shard whose attempts all ended back in the queue.
  void Requeue(Job& job, uint64_t shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a job (failed or cancelled): cancels its queued and running shards.
  void EndJob(Job& job, shardex::v1::JobState state, std::string error,
              Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropWorker(uint64_t worker_id, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds the job's kernel (or command) and resolves its spec.
  // `resuming`: the spec was resolved before a restart; its output
  // directory already holds parts.
  absl::StatusOr<std::shared_ptr<const KernelJob>> Plan(
      shardex::v1::JobSpec& spec, bool resuming) ABSL_LOCKS_EXCLUDED(mu_);
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
  Journal* const journal_;  // may be null
  JobListener listener_;  // set before use

  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);

  mutable absl::Mutex mu_;
  uint64_t next_job_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_worker_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_session_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> active_jobs_ ABSL_GUARDED_BY(mu_);  // not terminal
  std::map<uint64_t, Worker> workers_ ABSL_GUARDED_BY(mu_);
  // Submit request ids -> job ids; 0 while that submit is in progress.
  absl::flat_hash_map<std::string, uint64_t> requests_ ABSL_GUARDED_BY(mu_);

  // Limits. Submits admitted and not yet jobs (they count as in flight).
  uint64_t submits_in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  // Sum of every kept job's held_bytes; of it, what ended jobs hold.
  uint64_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ended_held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Ended jobs still kept, in the order they ended.
  std::deque<uint64_t> ended_ ABSL_GUARDED_BY(mu_);
  // Open worker sessions, and those of them not registered yet.
  uint64_t sessions_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, PendingSession> pending_sessions_
      ABSL_GUARDED_BY(mu_);

  // Submits run here: they plan (may stat files) and wait for the journal.
  ThreadPool submitter_{2};

  // Reductions (a kernel's Reduce, a --reduce-command, a PNG encoder) and
  // --output writes run here, never on a gRPC thread. Last member: joined
  // first.
  ThreadPool reducer_{1};
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SCHEDULER_H_
