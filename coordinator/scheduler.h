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
// (SchedulerOptions, "Limits"; docs/operations.md). A submit is checked for
// size and text (NUL bytes) before it is planned, and admitted only while fewer
// than max_jobs_in_flight jobs are queued or running and the bytes the
// coordinator holds for its jobs (specs, accepted payloads, results) are
// under max_held_bytes; otherwise RESOURCE_EXHAUSTED names the limit and
// its flag. A shard result over max_result_bytes fails its attempt instead
// of being held. Ended jobs are forgotten oldest first beyond
// max_job_records, or to make room under max_held_bytes (the journal keeps
// them). Worker sessions are counted and a session that does not Register
// within heartbeat_timeout is closed.
//
// Shard log: every attempt gets an entry in its job's AttemptLog
// (attempt_log.h) when it starts (dispatched, speculative, or adopted from
// a returning worker) and its outcome when it ends (succeeded, failed,
// cancelled, handed back, lost, discarded); ListAttempts pages through it.
// The log stays with the job record after the end and is journaled with
// the job's end (serialized outside the lock, Effects::attempt_logs).
//
// Ends: a job ends one way whatever the outcome (EndJob: succeeded after
// Reduce, failed, cancelled). Every connected worker that was sent its
// JobDefinition then gets CancelShards{job_ids: [job]}: it stops the job's
// attempts and forgets the definition.
//
// Progress: each job has a one-line summary (JobPlanner::Summary). Statuses
// come in two views (JobView): kFull with the spec (GetJob, SubmitJob, a
// watch's first message) and kProgress without it (ListJobs, WatchHub
// updates), so a 256 KiB spec is not re-sent ten times a second.
//
// Durability: with a Journal, a job is journaled before Submit returns,
// accepted shard payloads and job ends are journaled as they happen, and
// Recover() rebuilds the state after a restart: accepted shards are not run
// again, and returning workers' attempts are adopted.
//
// Parts: the Scheduler coordinates parts that own their state, the way
// LevelDB's DBImpl delegates to VersionSet, TableCache and MemTable:
//   * JobPlanner (job_planner.h): spec checks, planning, shard counts,
//     summaries. Thread-safe; called without the lock. With a store it
//     plans from the spec's localized copy (staged_paths.h), pins the
//     job's blobs, and on Forget (on the reducer thread, after the job's
//     last part write) unpins them, deletes STATE/outputs/<job> and
//     collects. A new job's id is taken before planning (outputs and pins
//     are named by it) and given back if the submit fails.
//   * Placement (placement.h): which job and shard a worker gets, twins for
//     speculation. Pure functions over read-only views.
//   * Retention (retention.h): held bytes, request ids, ended jobs and
//     which of them to forget.
//   * WorkerTable (worker_table.h): workers, sessions, held attempts.
//   * Job (job.h): one job's shards and their transitions.
// The Scheduler owns the jobs, the mutex, the messages to workers and the
// journal records. scheduler.cc holds the entry points, job ends and what
// runs outside the lock; scheduler_attempts.cc the attempt life cycle
// (dispatch, speculation, adoption, results).
//
// Thread-safety: every public method may be called from any thread. One
// mutex (mu_) guards all state; under it, calls only change memory and
// collect what to do into an Effects value. Messages to workers, journal
// records, part writes, reductions and notifications happen in Apply,
// after the lock is released. The journal is reached only through
// CommitJournal (and Recover's load), both ABSL_LOCKS_EXCLUDED(mu_), so a
// clang build with -Wthread-safety rejects any journal call under the lock.
#ifndef SHARDEX_COORDINATOR_SCHEDULER_H_
#define SHARDEX_COORDINATOR_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "coordinator/job.h"
#include "coordinator/job_planner.h"
#include "coordinator/journal.h"
#include "coordinator/metrics_histogram.h"
#include "coordinator/metrics_snapshot.h"
#include "coordinator/retention.h"
#include "coordinator/scheduler_options.h"
#include "coordinator/worker_link.h"
#include "coordinator/worker_table.h"
#include "proto/shardex.pb.h"

namespace shardex {

class Scheduler {
 public:
  using Options = SchedulerOptions;

  using SubmitCallback =
      std::function<void(absl::StatusOr<shardex::v1::JobStatus>)>;

  // Called outside the lock after a job changes; `terminal` when it ended.
  using JobListener = std::function<void(uint64_t job_id, bool terminal)>;

  // `journal` may be null (state kept in memory only); else it outlives
  // the scheduler, as do the store and outputs `staging` points to (none:
  // paths are used as they are; staged_paths.h).
  Scheduler(Options options, Clock* clock, Journal* journal = nullptr,
            StagingEnv staging = {});

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
  // kFull carries the spec (GetJob, a watch's first message); kProgress
  // leaves it out (a watch's updates). Both carry the summary.
  absl::StatusOr<shardex::v1::JobStatus> GetJob(
      uint64_t job_id, JobView view = JobView::kFull) const;
  // Ends the job: its workers hear of it (CancelShards.job_ids).
  absl::StatusOr<shardex::v1::JobStatus> Cancel(uint64_t job_id);
  // The newest jobs that fit in max_list_bytes, in the kProgress view.
  std::vector<shardex::v1::JobStatus> ListJobs() const;
  std::vector<shardex::v1::WorkerInfo> ListWorkers() const;
  // A page of the job's shard log (AttemptRecord, in start order).
  // NOT_FOUND for a job the coordinator does not know.
  absl::StatusOr<shardex::v1::ListAttemptsResponse> ListAttempts(
      const shardex::v1::ListAttemptsRequest& request) const;
  // Counts for /metrics (coordinator/metrics.h), in one hold of the lock.
  SchedulerMetrics Metrics() const ABSL_LOCKS_EXCLUDED(mu_);

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
  // The worker is alive; `heartbeat` says what it holds (ListWorkers shows
  // it).
  void OnHeartbeat(uint64_t worker_id,
                   const shardex::v1::Heartbeat& heartbeat = {});
  // The worker is shutting down: it gets no new shards, and hands back
  // (results with handed_back) what it will not finish.
  void OnDrain(uint64_t worker_id);
  // The worker's answer to a SplitShard: if it split, the rest of the
  // shard's range is queued as a new shard (scheduler_adaptive.cc).
  void OnSplit(uint64_t worker_id, const shardex::v1::ShardSplit& split);

  // Drops workers that missed heartbeats for heartbeat_timeout, closes
  // sessions that did not register in that time, and starts speculative
  // backups. The owner calls it a few times a second.
  void Tick();

  // Waits for everything journaled so far to be durable.
  absl::Status SyncJournal() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Messages to send once the lock is released.
  using Outbox = std::vector<
      std::pair<std::shared_ptr<WorkerLink>, shardex::v1::CoordinatorMessage>>;

  // A shard output to write to a job's --output directory.
  struct PartWrite {
    std::string dir;
    std::string name;  // PartFileName or RangePartFileName
    std::string data;
  };

  // Work found under the lock, done outside it (Apply).
  struct Effects {
    std::vector<JournalRecord> journal;
    bool sync_journal = false;  // wait until the records are durable
    Outbox outbox;
    std::vector<PartWrite> parts;
    std::vector<uint64_t> to_reduce;
    std::vector<std::pair<uint64_t, bool>> changed;  // (job, terminal)
    // Jobs whose end records this commit makes durable (Job::end_syncing).
    std::vector<uint64_t> ends;
    std::vector<uint64_t> forgotten;  // their blobs and outputs go
    // Shard logs of ended jobs, copied under the lock and serialized into
    // journal[index].attempts outside it (a log may hold a million
    // attempts: a copy is a memcpy, serializing is not).
    std::vector<std::pair<size_t, AttemptLog>> attempt_logs;
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
  // Ends a reservation of Admit that made no job, whose id was `job_id`.
  void Unreserve(const std::string& request_id, uint64_t job_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A job of the journal as it was when recovered (not yet resumed).
  Job& AddRecoveredJob(const JournaledJob& journaled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds a resumed job from the journal.
  void Resume(JournaledJob journaled, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks `shard` of a resumed job SUCCEEDED with its journaled payload
  // (and rewrites its part: a crash can come between journal and part).
  void RestoreShard(Job& job, uint64_t shard, std::string payload,
                    Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the ended jobs Retention lets go (never `keep`) and journals
  // that they are gone. No Job reference may be held across it.
  void TrimEndedJobs(Effects& fx, uint64_t keep = 0)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Job* FindJob(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NOT_FOUND for a job not in jobs_, saying if it may have been forgotten.
  absl::Status UnknownJob(uint64_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new job's empty shard log, with the configured cap.
  AttemptLog NewAttemptLog() const { return AttemptLog(options_.max_attempt_log); }

  // ---- Assignment.
  // Fills free worker slots from the queues of running jobs: offers work to
  // every worker while a job with queued shards prefetches, else only to
  // the workers that are not Full() (WorkerTable::NotFull).
  void Dispatch(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives `w` (unless draining) queued shards up to its capacity, fairest
  // job first, as one AssignmentBatch in `fx`.
  void Offer(ConnectedWorker& w, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts an attempt of `shard` on `w` at `now`, adding it to `msg` (with
  // the job's definition if `w` has not had it). Callers read the clock
  // once per batch of attempts.
  void StartAttempt(Job& job, uint64_t shard, ConnectedWorker& w,
                    bool speculative, absl::Time now,
                    shardex::v1::CoordinatorMessage& msg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts backups for stragglers of every running job.
  void Speculate(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Adaptive shards (scheduler_adaptive.cc).
  // Marks `job` (spec and domain set) adaptive, with nothing carved yet.
  void MakeAdaptive(Job& job) const;
  // Cuts new shards of adaptive jobs for the slots that could take them.
  void Carve() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For adaptive kernel jobs with nothing left to carve and slots idle:
  // asks the workers of the longest-running shards to stop early
  // (SplitShard), so the rest can run on the idle slots.
  void SplitStragglers(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An adaptive job's accepted result: what it teaches about the cost of
  // the domain.
  void ObserveCost(Job& job, uint64_t shard, uint64_t worker_id,
                   uint64_t runtime_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds an adaptive job's accepted shards from the journal; false
  // (with `error` set) if the journaled ranges are not the job's.
  bool ResumeAdaptive(Job& job, JournaledJob& journaled, Effects& fx,
                      std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The file name of `shard`'s part in the job's --output directory.
  static std::string PartName(const Job& job, uint64_t shard);
  // Adopts (or cancels) an attempt a (re)connecting worker holds; `held`
  // is its range as the worker reported it (Register.held), if it did.
  void Adopt(ConnectedWorker& w, const shardex::v1::ShardRef& ref,
             const shardex::v1::ShardTask* held, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells the worker running `attempt` of (job, shard) to stop it, and
  // frees its slot.
  void CancelAttempt(uint64_t job_id, uint64_t shard,
                     const RunningAttempt& attempt, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cancels every attempt of `shard` still in flight.
  void CancelAttempts(Job& job, uint64_t shard, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropWorker(uint64_t worker_id, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Results.
  void AcceptResult(ConnectedWorker& w, const shardex::v1::ShardResult& r,
                    Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptSuccess(Job& job, uint64_t shard, ConnectedWorker& w,
                     const shardex::v1::ShardResult& r, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptFailure(Job& job, uint64_t shard, ConnectedWorker& w,
                     const shardex::v1::ShardResult& r, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A late result for a shard already accepted: counted, and compared.
  void CompareLate(Job& job, uint64_t shard, const ConnectedWorker& w,
                   const shardex::v1::ShardResult& r, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Skips the shards a result's Cutoff made unnecessary.
  void ApplyCutoff(Job& job, uint64_t cutoff, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends `attempt`'s entry in the job's shard log; `r` is its result, if
  // one came (run time, exit code, bytes, error).
  void LogEnd(Job& job, const RunningAttempt& attempt,
              shardex::v1::AttemptOutcome outcome,
              const shardex::v1::ShardResult* r = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands a job whose shards are all done to the reducer.
  void StartReduce(Job& job, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Ending.
  // Ends a job, whatever the outcome (SUCCEEDED after Reduce, FAILED,
  // CANCELLED): cancels its unfinished shards, tells every connected
  // worker that was sent its definition (CancelShards.job_ids) so it stops
  // the job's attempts and forgets it, journals the end, frees what it no
  // longer needs and counts it as ended. `job` stays valid.
  void EndJob(Job& job, shardex::v1::JobState state, std::string error,
              Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What clients are told of `job`: its status, except that an end not yet
  // durable (Job::end_syncing) reads as the state before it, without its
  // result or error. No client hears of an end a restart could take back.
  shardex::v1::JobStatus ClientStatus(const Job& job, JobView view) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Outside the lock.
  // The one place records are appended to the journal and synced. OK
  // without a journal.
  absl::Status CommitJournal(std::vector<JournalRecord> records, bool sync)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Journals, sends, writes parts, starts reductions and notifies.
  void Apply(Effects fx) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs on reducer_: the kernel's Reduce and the job's result file.
  void Reduce(uint64_t job_id) ABSL_LOCKS_EXCLUDED(mu_);
  void Notify(const std::vector<std::pair<uint64_t, bool>>& changed)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const Options options_;
  Clock* const clock_;
  // May be null. Only CommitJournal and Recover use it.
  Journal* const journal_;
  JobListener listener_;  // set before use
  JobPlanner planner_;    // thread-safe: used without mu_

  mutable absl::Mutex mu_;
  uint64_t next_job_id_ ABSL_GUARDED_BY(mu_) = 1;
  JobMap jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> active_jobs_ ABSL_GUARDED_BY(mu_);  // not terminal
  WorkerTable workers_ ABSL_GUARDED_BY(mu_);
  Retention retention_ ABSL_GUARDED_BY(mu_);
  // The counts of the jobs TrimEndedJobs forgot, for Metrics.
  ShardTotals forgotten_totals_ ABSL_GUARDED_BY(mu_);
  // For Metrics; each has its own leaf lock.
  LatencyHistogram shard_seconds_{LatencyHistogram::ShardBounds()};
  LatencyHistogram journal_commit_seconds_{LatencyHistogram::CommitBounds()};

  // Submits run here: they plan (may stat files) and wait for the journal.
  ThreadPool submitter_{2};

  // Reductions (a kernel's Reduce, a --reduce-command, a PNG encoder) and
  // --output writes run here, never on a gRPC thread. Last member: joined
  // first.
  ThreadPool reducer_{1};
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SCHEDULER_H_
