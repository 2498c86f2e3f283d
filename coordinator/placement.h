// Placement: which work goes to which worker. Pure functions over
// read-only views of jobs (JobMap, Job) and workers (WorkerMap, Worker):
// no lock, no clock, no state of their own. The Scheduler calls them under
// its lock and applies what they choose.
//
//   * Capacity: how many attempts of a job a worker may hold (its slots of
//     the job's kind, plus prefetch while the job's shards are short).
//   * Eligible / Quarantined: whether a worker may run a job at all.
//   * PickJobFor: the job a free slot serves (max-min fair: the runnable
//     job with the fewest running shards).
//   * PickQueuedShard: the queued shard a worker takes (not one that failed
//     on it while another worker could take it).
//   * WantsBackups / StragglerLimit / PickTwin: speculation.
//
// Thread-safety: pure functions; the caller keeps the views still.
#ifndef SHARDEX_COORDINATOR_PLACEMENT_H_
#define SHARDEX_COORDINATOR_PLACEMENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "coordinator/job.h"
#include "coordinator/scheduler_options.h"
#include "coordinator/worker_table.h"

namespace shardex {
namespace placement {

// Slots of the job's kind (threads, or processes for a command job) that
// `w` declared.
uint64_t SlotsFor(const Job& job, const ConnectedWorker& w);
// Attempts of the job's kind `w` holds.
uint64_t HeldFor(const Job& job, const ConnectedWorker& w);
// How many attempts of the job's kind `w` may hold: its slots while the
// job's shards are long (or unknown); up to prefetch_window of work ahead
// (at most max_prefetch more) while they are short. 0 while draining.
uint64_t Capacity(const Job& job, const ConnectedWorker& w,
                  const SchedulerOptions& options);
// Whether Capacity gives `job` more than a worker's slots: its shards are
// short enough to fetch ahead.
bool Prefetches(const Job& job, const SchedulerOptions& options);
// Whether any of the `active` jobs with queued shards Prefetches. While
// none does, a worker that is Full() can take nothing (PickJobFor finds no
// job under its capacity), whatever else holds.
bool AnyQueuedJobPrefetches(const std::vector<uint64_t>& active,
                            const JobMap& jobs,
                            const SchedulerOptions& options);

// `w` failed too many shards of `job` and another worker can run it (a
// quarantine must not stall a job).
bool Quarantined(const Job& job, const ConnectedWorker& w,
                 const WorkerMap& workers);
// `w` may run `job`: it has slots of the job's kind, is not draining, and
// is not quarantined for the job.
bool Eligible(const Job& job, const ConnectedWorker& w,
              const WorkerMap& workers);

// The job whose queued shard `w`'s next free slot should run: among
// `active` jobs with queued shards, under `w`'s capacity, eligible and not
// in `skip`, the one with the fewest running shards. 0 if none.
uint64_t PickJobFor(const ConnectedWorker& w,
                    const std::vector<uint64_t>& active, const JobMap& jobs,
                    const WorkerMap& workers,
                    const absl::flat_hash_set<uint64_t>& skip,
                    const SchedulerOptions& options);

// The position in job.queue of the shard `w` should take: retries sit at
// the front, and a shard that already failed on `w` is passed over (within
// the first few) while another eligible worker has not failed it.
std::optional<size_t> PickQueuedShard(const Job& job, const ConnectedWorker& w,
                                      const WorkerMap& workers);

// Whether `job` is far enough along for backups of its stragglers: nothing
// queued or reducing, and `after` of its shards done.
bool WantsBackups(const Job& job,
                  const SchedulerOptions::Speculation& speculation);
// How long a shard's only attempt may run before it gets a backup.
absl::Duration StragglerLimit(const Job& job,
                              const SchedulerOptions::Speculation& speculation);
// A worker to run a backup of `slot`: eligible, with a free slot of the
// job's kind, not the one running it and not one it failed on. Null if
// none.
const ConnectedWorker* PickTwin(const Job& job, const ShardSlot& slot,
                                const WorkerMap& workers);

// Straggler splitting of an adaptive job: the running shard to split and
// the share of its unclaimed rest its worker keeps.
struct SplitChoice {
  uint64_t shard = 0;
  double keep = 0.5;
};
// Slots of the job's kind that eligible workers have free.
uint64_t IdleSlots(const Job& job, const WorkerMap& workers);
// Among the job's shards whose only attempt runs unsplit, the one with the
// most work left by estimate (its range at its worker's cost, minus the
// time it has run, but at least half the time it has run: its worker may
// have slowed down since), if that is at least `min_rest`. `keep` shares the rest so that its worker
// and an idle one of cost `idle_cost` (us per unit) end together. Needs a
// measured cost (job.carver.cost() >= 0).
std::optional<SplitChoice> PickSplit(const Job& job, absl::Time now,
                                     double idle_cost, absl::Duration min_rest);

}  // namespace placement
}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_PLACEMENT_H_
