// JobPlanner: turns a submitted JobSpec into a plan the Scheduler can run.
//
//   1. Validate: what can be checked before planning (the spec's size, its
//      text fields, that it names something to run).
//   2. Plan: resolves the spec and builds its KernelJob: a kernel's absent
//      random_if_absent arguments (seeds) get values and the kernel checks
//      its arguments (the kernel is looked up once); a command job is
//      checked under the coordinator's CommandPolicy and gets its defaults.
//      The job is built from the spec's localized copy (staged_paths.h):
//      staged input paths read from the store, outputs kept in
//      STATE/outputs/<job> unless the job has shared_fs. The spec itself
//      keeps the client's paths.
//   3. ShardCount: the user's --shards or one from the cluster size,
//      checked against the domain and max_shards_per_job.
//   4. HeldBytesEstimate: what the unfinished job will hold in memory, for
//      admission (Retention).
//   5. Summary: the one line JobStatus.summary shows instead of the spec.
//
// The planner owns nothing but its options and the random source for seeds.
//
// Thread-safety: all methods are safe from any thread (the random source
// has its own lock). Plan may touch the disk (--output), so the Scheduler
// calls it without holding its own lock.
#ifndef SHARDEX_COORDINATOR_JOB_PLANNER_H_
#define SHARDEX_COORDINATOR_JOB_PLANNER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/job.h"
#include "coordinator/scheduler_options.h"
#include "coordinator/staged_paths.h"
#include "kernels/kernel.h"
#include "proto/shardex.pb.h"

namespace shardex {

// What Plan makes of a spec, besides the spec's resolution.
struct PlannedJob {
  std::shared_ptr<const KernelJob> kernel;
  // Where this host writes the job's parts, result and _SUCCESS: the
  // spec's output_dir, or STATE/outputs/<job> (kept for the client).
  std::string output_dir;
  // For JobDefinition.shared_fs: paths not staged are used as they are.
  bool shared_fs = true;
  // Kernel output files kept in STATE/outputs/<job>: kept path -> the
  // client's (LocalizedSpec::client_paths).
  std::map<std::string, std::string> client_paths;
};

class JobPlanner {
 public:
  // What the coordinator holds per shard of a job that has not ended: its
  // slot, payload string and queue entry (counted against max_held_bytes).
  // 112 bytes; bench/memory.sh measures about 115 per queued shard.
  static constexpr uint64_t kShardStateBytes =
      sizeof(ShardSlot) + sizeof(std::string) + sizeof(uint64_t);
  // JobStatus.summary is at most about this long.
  static constexpr size_t kMaxSummaryBytes = 200;
  // Adaptive shards aim at this run time unless the spec says otherwise,
  // and a spec may ask for at most kMaxTargetShardMs.
  static constexpr absl::Duration kDefaultTargetShardTime = absl::Seconds(1);
  static constexpr uint64_t kMaxTargetShardMs = 3'600'000;

  // `options` (and what `staging` points to) outlive the planner.
  explicit JobPlanner(const SchedulerOptions& options,
                      StagingEnv staging = {});

  JobPlanner(const JobPlanner&) = delete;
  JobPlanner& operator=(const JobPlanner&) = delete;

  // RESOURCE_EXHAUSTED over max_spec_bytes, INVALID_ARGUMENT naming the
  // field for bad text; else the spec's serialized size.
  absl::StatusOr<uint64_t> Validate(const shardex::v1::JobSpec& spec) const;

  // Resolves `spec` in place and builds job `job_id` from its localized
  // copy; pins the job's staged blobs in the store (unpinned again, and
  // STATE/outputs/<job> removed, when a new job fails here: see Abandon).
  // `resuming`: the spec was resolved before a restart, and its output
  // directory already holds parts.
  absl::StatusOr<PlannedJob> Plan(shardex::v1::JobSpec& spec, bool resuming,
                                  uint64_t job_id)
      ABSL_LOCKS_EXCLUDED(rng_mu_);
  // Undoes what Plan left behind for a job that will not exist: its pins
  // and its STATE/outputs/<job>.
  void Abandon(uint64_t job_id) const;
  // The job's record is forgotten: unpins its blobs, deletes its outputs
  // and collects what no remembered job needs. Touches the disk.
  void Forget(uint64_t job_id) const;
  // A job recovered as ended keeps its blobs while it is remembered.
  void PinRecovered(const shardex::v1::JobSpec& spec, uint64_t job_id) const;
  // After recovery: deletes the outputs of jobs not remembered.
  void RemoveOutputsExcept(const std::set<uint64_t>& remembered) const;

  // Whether the job's shards are cut adaptively (RangeCarver): no
  // spec.shards(), a non-empty range domain, and for a command, an argv
  // that names neither {shard} nor {shards} (they need a count up front).
  static bool IsAdaptive(const shardex::v1::JobSpec& spec,
                         const Domain& domain);
  // The run time adaptive shards aim at (JobSpec.target_shard_time_ms).
  static absl::Duration TargetShardTime(const shardex::v1::JobSpec& spec);

  // The shard count for `spec` over `domain` on a cluster of
  // `cluster_slots` thread slots: spec.shards(), 0 for an adaptive job, or
  // a default (capped at max_shards_per_job). RESOURCE_EXHAUSTED for an
  // ask over max_shards_per_job, INVALID_ARGUMENT for one the domain
  // cannot split.
  absl::StatusOr<uint64_t> ShardCount(const shardex::v1::JobSpec& spec,
                                      const Domain& domain,
                                      uint64_t cluster_slots) const;
  // OK if a job over `domain` may have `shards` (a journal is input too).
  absl::Status CheckShardCount(const Domain& domain, uint64_t shards) const;

  // Bytes an unfinished job of `shards` shards and a `spec_bytes` spec
  // holds; UINT64_MAX on overflow.
  static uint64_t HeldBytesEstimate(uint64_t shards, uint64_t spec_bytes);

  // "primes --from 0 --to 100", "command: ./simulate --seed {shard}": one
  // line, control characters replaced, clipped to about kMaxSummaryBytes.
  static std::string Summary(const shardex::v1::JobSpec& spec);

 private:
  absl::StatusOr<PlannedJob> PlanLocalized(shardex::v1::JobSpec& spec,
                                           bool resuming, uint64_t job_id)
      ABSL_LOCKS_EXCLUDED(rng_mu_);
  // Gives absent random_if_absent arguments values.
  void FillSeeds(shardex::v1::JobSpec& spec) ABSL_LOCKS_EXCLUDED(rng_mu_);
  absl::StatusOr<std::shared_ptr<const KernelJob>> PlanKernel(
      const shardex::v1::JobSpec& local) const;
  // Resolves spec.command (keeping its paths) from the localized `local`.
  absl::StatusOr<std::shared_ptr<const KernelJob>> PlanCommand(
      shardex::v1::JobSpec& spec, const shardex::v1::JobSpec& local) const;

  // Constant after construction.
  const SchedulerOptions& options_;
  const StagingEnv staging_;

  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_JOB_PLANNER_H_
