#include "coordinator/placement.h"

#include <algorithm>
#include <cmath>

namespace shardex {
namespace placement {

uint64_t SlotsFor(const Job& job, const ConnectedWorker& w) {
  return job.is_command ? w.reg.processes() : w.reg.slots();
}

uint64_t HeldFor(const Job& job, const ConnectedWorker& w) {
  return job.is_command ? w.running_commands
                        : w.running.size() - w.running_commands;
}

namespace {

// Shards of `job` a slot may hold beyond the one it runs: as many as fit in
// the prefetch window at the job's mean run time; 0 while none is known.
double AheadPerSlot(const Job& job, const SchedulerOptions& options) {
  if (job.avg_runtime_us < 0) return 0;  // nothing known yet
  const double window_us = absl::ToDoubleMicroseconds(options.prefetch_window);
  return std::floor(window_us / std::max(job.avg_runtime_us, 1.0));
}

}  // namespace

uint64_t Capacity(const Job& job, const ConnectedWorker& w,
                  const SchedulerOptions& options) {
  const uint64_t slots = SlotsFor(job, w);
  if (slots == 0 || w.draining) return 0;
  const uint64_t extra = std::min<uint64_t>(
      options.max_prefetch,
      static_cast<uint64_t>(slots * AheadPerSlot(job, options)));
  return slots + extra;
}

bool Prefetches(const Job& job, const SchedulerOptions& options) {
  return options.max_prefetch > 0 && AheadPerSlot(job, options) >= 1;
}

bool AnyQueuedJobPrefetches(const std::vector<uint64_t>& active,
                            const JobMap& jobs,
                            const SchedulerOptions& options) {
  for (uint64_t id : active) {
    const Job& job = jobs.at(id);
    if (!job.queue.empty() && Prefetches(job, options)) return true;
  }
  return false;
}

bool Quarantined(const Job& job, const ConnectedWorker& w,
                 const WorkerMap& workers) {
  if (!job.quarantined.contains(w.id)) return false;
  for (const auto& [id, other] : workers) {
    if (id == w.id || other.draining || job.quarantined.contains(id)) continue;
    if (SlotsFor(job, other) > 0) return true;
  }
  return false;
}

bool Eligible(const Job& job, const ConnectedWorker& w,
              const WorkerMap& workers) {
  if (w.draining || SlotsFor(job, w) == 0) return false;
  return job.quarantined.empty() || !Quarantined(job, w, workers);
}

uint64_t PickJobFor(const ConnectedWorker& w,
                    const std::vector<uint64_t>& active, const JobMap& jobs,
                    const WorkerMap& workers,
                    const absl::flat_hash_set<uint64_t>& skip,
                    const SchedulerOptions& options) {
  const Job* best = nullptr;
  for (uint64_t id : active) {
    const Job& job = jobs.at(id);
    if (job.queue.empty() || HeldFor(job, w) >= Capacity(job, w, options)) {
      continue;
    }
    if (skip.contains(id) || !Eligible(job, w, workers)) continue;
    if (best == nullptr || job.running < best->running) best = &job;
  }
  return best == nullptr ? 0 : best->id;
}

std::optional<size_t> PickQueuedShard(const Job& job, const ConnectedWorker& w,
                                      const WorkerMap& workers) {
  constexpr size_t kScan = 64;
  for (size_t i = 0; i < job.queue.size() && i < kScan; ++i) {
    const ShardSlot& slot = job.shards[job.queue[i]];
    if (!slot.FailedOn(w.id)) return i;
    bool another = false;  // an eligible worker that has not failed it
    for (const auto& [id, other] : workers) {
      if (id != w.id && !slot.FailedOn(id) && Eligible(job, other, workers)) {
        another = true;
        break;
      }
    }
    if (!another) return i;
  }
  return std::nullopt;
}

bool WantsBackups(const Job& job,
                  const SchedulerOptions::Speculation& speculation) {
  if (job.reducing || !job.queue.empty() || !job.carver.empty() ||
      job.running == 0) {
    return false;
  }
  return job.succeeded + job.skipped >= speculation.after * job.total;
}

absl::Duration StragglerLimit(
    const Job& job, const SchedulerOptions::Speculation& speculation) {
  return std::max(speculation.min_runtime,
                  speculation.slowdown * job.MedianRuntime());
}

const ConnectedWorker* PickTwin(const Job& job, const ShardSlot& slot,
                                const WorkerMap& workers) {
  for (const auto& [id, w] : workers) {
    if (id == slot.running[0].worker_id || !Eligible(job, w, workers)) {
      continue;
    }
    if (HeldFor(job, w) >= SlotsFor(job, w) || slot.FailedOn(id)) continue;
    return &w;
  }
  return nullptr;
}

uint64_t IdleSlots(const Job& job, const WorkerMap& workers) {
  uint64_t idle = 0;
  for (const auto& [id, w] : workers) {
    if (!Eligible(job, w, workers)) continue;
    const uint64_t slots = SlotsFor(job, w), held = HeldFor(job, w);
    if (held < slots) idle += slots - held;
  }
  return idle;
}

std::optional<SplitChoice> PickSplit(const Job& job, absl::Time now,
                                     double idle_cost,
                                     absl::Duration min_rest) {
  const double job_cost = job.carver.cost();
  if (job_cost < 0) return std::nullopt;
  std::optional<SplitChoice> best;
  double best_rest_us = absl::ToDoubleMicroseconds(min_rest);
  for (uint64_t i = 0; i < job.total; ++i) {
    const ShardSlot& slot = job.shards[i];
    if (slot.state != v1::SHARD_RUNNING || slot.running.size() != 1) continue;
    const RunningAttempt& a = slot.running[0];
    if (a.speculative || a.split_pending || a.split_refused) continue;
    auto it = job.cost_by_worker.find(a.worker_id);
    const double cost = it == job.cost_by_worker.end() ? job_cost : it->second;
    const ShardRange r = job.RangeOf(i);
    const double expected_us = static_cast<double>(r.end - r.begin) * cost;
    const double ran_us = absl::ToDoubleMicroseconds(now - a.started);
    // A worker may have slowed down (or stopped) since its cost was
    // measured, so a shard past half its expected time is not taken to be
    // nearly done: it is guessed to need at least half as long again. The
    // worker knows the real progress and splits what really remains.
    const double rest_us =
        std::max(expected_us - ran_us, std::min(ran_us, expected_us) / 2);
    if (rest_us < best_rest_us) continue;
    best_rest_us = rest_us;
    // Its worker does keep x rest at `cost`, the idle one the remainder
    // at `idle_cost`: both take the same time when keep is this.
    const double keep = idle_cost / (idle_cost + cost);
    best = SplitChoice{i, std::clamp(keep, 0.1, 0.9)};
  }
  return best;
}

}  // namespace placement
}  // namespace shardex
