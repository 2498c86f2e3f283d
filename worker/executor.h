// ShardExecutor: runs a worker's assigned shards and reports each outcome
// through a sink: kernel shards on a pool of --threads threads, command
// shards as child processes, at most --processes at once (each waited on by
// one thread of a second pool). Knows nothing of gRPC: the Worker
// (worker/worker.cc) feeds it assignments and cancels and ships results.
//
// One executor serves the worker process for its whole life, across
// coordinator sessions: a broken stream does not stop its attempts, and
// Held() tells the next session what is still in hand.
//
// Jobs: the executor learns a job from its JobDefinition (a kernel's worker
// side, a ShardRunner, or a command) and keeps the first definition it gets
// for a job id: job ids are never reused, and running attempts use that
// entry. It forgets the job when the coordinator names it in
// CancelShards.job_ids, which it sends to every worker it sent the job to
// once the job ends, whatever the outcome; so the job table holds only
// jobs that have not ended (KnownJobs()).
//
// An attempt is *queued* (waiting for a pool thread) or *running*, until
// its result has been passed to the sink. How each one ends:
//
//   queued --(pool thread free)--> running --(done)-------------> sink: result
//     |                              |
//     | Cancel / CancelAll           | Cancel / CancelAll --------> nothing
//     +--> nothing                   |
//     | StartDrain                   | HandBackRunning -----------> sink:
//     +--> sink: handed_back         |   (finished ok anyway: the   handed_back
//                                    |    ok result is sent)
//
// Splitting (Split, straggler splitting): a kernel attempt over a range
// that its kernel takes in chunks (ShardRunner::splittable) can be told to
// stop early at a point in its unclaimed rest; its result then carries
// end = that point. Once its result is on its way to the sink, or it was
// asked to stop, it can no longer be split.
//
// Draining (StartDrain) is one-way: queued attempts and every task assigned
// later are handed back at once (ShardResult{ref, handed_back}); running
// attempts go on until the owner calls HandBackRunning (after its grace
// period) or CancelAll.
//
// Destroying the executor cancels every attempt, waits for the running ones
// to notice (command shards' process groups are killed and reaped), drops
// their results, and removes every command shard work dir left: those kept
// for reuse and those waiting for removal (WorkDirPool: command shards get
// recycled empty dirs, and a shard's result is reported before its dir is
// gone).
//
// Thread-safety: all methods are safe from any thread. The sink is called
// from pool threads or the caller's thread, never with the executor's lock
// held.
#ifndef SHARDEX_WORKER_EXECUTOR_H_
#define SHARDEX_WORKER_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/shard_ref_key.h"
#include "common/thread_pool.h"
#include "kernels/shard_runner.h"
#include "proto/shardex.pb.h"
#include "worker/staging.h"
#include "worker/work_dir_pool.h"

namespace shardex {

class ShardExecutor {
 public:
  using ResultSink = std::function<void(shardex::v1::ShardResult)>;
  // A sink that is also told the range a finished attempt covered (begin,
  // and end as split: Register.held while its result waits), nullopt for
  // results of attempts that never ran (rejected, handed back while
  // queued). Given with the result, so the worker does not look the
  // attempt up again for every result.
  using CoveredResultSink = std::function<void(
      shardex::v1::ShardResult, std::optional<ShardRange> covered)>;

  struct Options {
    int threads = 1;
    int processes = 1;
    std::string scratch_root = TempDir();  // per-shard dirs of command shards
    // Makes staged files local (worker/staging.h); must outlive the
    // executor. Null: every path is used as it is.
    JobStager* stager = nullptr;
  };

  struct Counts {
    uint32_t queued = 0;
    uint32_t running = 0;
  };

  ShardExecutor(Options options, ResultSink sink);
  ShardExecutor(Options options, CoveredResultSink sink);
  ~ShardExecutor();

  ShardExecutor(const ShardExecutor&) = delete;
  ShardExecutor& operator=(const ShardExecutor&) = delete;

  // Learns the batch's job definitions (a job already known keeps its
  // first definition, good or bad) and queues its tasks. A task of an
  // unknown job, or of a job whose definition the kernel rejects, reports a
  // failed result rather than running. A task whose attempt is already held is
  // ignored. While draining, every task is handed back at once.
  void Assign(const shardex::v1::AssignmentBatch& batch)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the named attempts, and every attempt of the named jobs, whose
  // definitions (or the reasons they were rejected) are forgotten too, with
  // their staged files (JobStager::Forget). The
  // stopped attempts' results are not reported: the coordinator has already
  // let them go.
  void Cancel(const shardex::v1::CancelShards& cancel) ABSL_LOCKS_EXCLUDED(mu_);

  // Attempts queued or running.
  size_t InFlight() const ABSL_LOCKS_EXCLUDED(mu_);
  // Jobs whose definition (or rejection) the executor holds.
  size_t KnownJobs() const ABSL_LOCKS_EXCLUDED(mu_);
  Counts counts() const ABSL_LOCKS_EXCLUDED(mu_);
  // Attempts waiting for a pool thread. O(1) and lock-free (the Worker asks
  // for every result; see worker/result_linger.h); exact whenever the
  // executor's lock is free.
  size_t Queued() const { return queued_.load(std::memory_order_acquire); }
  // The attempts queued or running (including ones whose result is being
  // handed to the sink right now), in (job, shard, attempt) order.
  std::vector<shardex::v1::ShardRef> Held() const ABSL_LOCKS_EXCLUDED(mu_);
  // The same attempts with the ranges they cover now: begin, and end as
  // split (Register.held).
  std::vector<shardex::v1::ShardTask> HeldTasks() const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Moves the end bound of a held kernel attempt down
  // (ShardControl::Split(split.keep)) and says where, or ok=false when it
  // cannot: unknown attempt, a command or a kernel that does not split, a
  // result already on its way, an attempt being stopped, or too little
  // unclaimed work left. An ok answer must reach the coordinator before
  // the attempt's result, which the sink may be handed as soon as this
  // returns: the caller orders the two (Worker holds its outbox lock
  // across this call).
  shardex::v1::ShardSplit Split(const shardex::v1::SplitShard& split)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Starts draining: hands back every queued attempt now and every task
  // assigned from now on. Running attempts continue.
  void StartDrain() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the running attempts; each reports handed_back (or its result,
  // if it finished anyway).
  void HandBackRunning() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops every attempt without reporting it.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` until no attempt is held and every result has
  // been passed to the sink. Returns whether that happened. Once it has,
  // no command shard's child process is left.
  bool WaitIdle(absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Key = ShardRefKey;  // (job, shard, attempt)

  // A command job's spec and its program, found once for the job
  // (FindProgramAnywhere, common/process_runner.h; empty when each run must
  // look). Shared: every queued task holds its job's entry.
  struct CommandJob {
    shardex::v1::CommandSpec spec;
    std::string program;
  };

  // What the executor knows of a job: a kernel's worker side, or a command.
  struct JobEntry {
    std::shared_ptr<const ShardRunner> runner;
    std::shared_ptr<const CommandJob> command;
    uint64_t shards = 0;
    // With a stager: the job as localized (its shards ensure their input
    // is present before running).
    std::shared_ptr<const StagedJob> staged;
  };

  // How a running attempt was asked to stop.
  enum class StopReason { kNone, kCancel, kHandBack };

  struct Attempt {
    shardex::v1::ShardRef ref;
    uint64_t begin = 0;  // the task's range as assigned
    uint64_t end = 0;
    std::shared_ptr<ShardControl> control;  // cancel flag and end bound
    bool splittable = false;  // a kernel that takes its range by Claim
    bool started = false;
    bool finished = false;  // its result is on its way to the sink
    StopReason stop = StopReason::kNone;
  };

  static shardex::v1::ShardResult HandedBack(const shardex::v1::ShardRef& ref);
  // The attempt's range now: begin, and end as split.
  static shardex::v1::ShardTask TaskOf(const Attempt& a);
  // Sets result.end when the attempt was split.
  static void SetSplitEnd(const Attempt& a, shardex::v1::ShardResult* result);

  // A job's entry, localized by the stager, without its kernel runner.
  absl::StatusOr<JobEntry> NewEntry(const shardex::v1::JobDefinition& def)
      const ABSL_LOCKS_EXCLUDED(mu_);
  // Cancel's work on the attempts and the job table.
  void StopLocked(const shardex::v1::CancelShards& cancel)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // queued_ bookkeeping, under mu_.
  void Queue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queued_.fetch_add(1, std::memory_order_release);
  }
  void Unqueue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queued_.fetch_sub(1, std::memory_order_release);
  }

  // Marks the attempt started; false if it was stopped while queued.
  bool Start(const Key& key, const std::shared_ptr<ShardControl>& control)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Runs an attempt on a pool thread and reports it, unless it was stopped.
  void Run(const shardex::v1::ShardTask& task, const JobEntry& job,
           std::shared_ptr<ShardControl> control) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the shard itself, without the lock; sets payload fields, error and
  // exit code.
  void Execute(const shardex::v1::ShardTask& task, const JobEntry& job,
               ShardControl& control, shardex::v1::ShardResult* result)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the queued attempts (returning them as hand-backs when `reason`
  // is kHandBack) and, if `include_running`, flags the running ones to stop
  // for `reason`.
  std::vector<shardex::v1::ShardResult> Stop(StopReason reason,
                                             bool include_running)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Passes results to the sink, outside the lock. The caller added them to
  // reporting_ under the lock, which keeps WaitIdle false until they are
  // through.
  void Report(std::vector<shardex::v1::ShardResult> results)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const CoveredResultSink sink_;
  const Options options_;

  mutable absl::Mutex mu_;
  // State below is protected by mu_.
  // Jobs not yet ended: their definitions, or why a definition was rejected
  // (reported as the error of each of the job's tasks).
  absl::flat_hash_map<uint64_t, JobEntry> jobs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> bad_jobs_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<Key, Attempt> attempts_ ABSL_GUARDED_BY(mu_);
  // Results not tied to a held attempt (rejections, hand-backs of queued
  // attempts) on their way to the sink.
  int reporting_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Attempts in attempts_ not yet started; changed only under mu_ (Queue,
  // Unqueue).
  std::atomic<size_t> queued_{0};

  // Command shards' work dirs, recycled or removed off their slots'
  // threads. Destroyed after the pools below, so every dir is removed.
  WorkDirPool work_dirs_{options_.scratch_root};

  // Last: destroyed first, so pool threads stop before the state above.
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ThreadPool> process_pool_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_EXECUTOR_H_
