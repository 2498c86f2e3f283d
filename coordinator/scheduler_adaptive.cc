// The Scheduler's adaptive shards, under its lock: cutting shards of range
// jobs submitted without --shards as slots free up (RangeCarver), learning
// the cost of their domain from results, splitting stragglers once nothing
// is left to cut and slots are idle (SplitShard / ShardSplit), and
// rebuilding such a job from the journal. docs/architecture.md, "Adaptive
// shards".
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "coordinator/placement.h"
#include "coordinator/scheduler.h"
#include "coordinator/shard_batch_codec.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// A running shard is split only if, by estimate, at least this much of
// its work is left: less is not worth a message and a new shard. (The
// worker refuses anyway when less than one chunk of its kernel is left.)
constexpr absl::Duration kMinSplitRest = absl::Milliseconds(20);
// How fast a worker's cost estimate follows its new results.
constexpr double kWorkerCostWeight = 0.3;

}  // namespace

void Scheduler::MakeAdaptive(Job& job) const {
  job.adaptive = true;
  RangeCarver::Options carving;
  carving.target = JobPlanner::TargetShardTime(job.spec);
  carving.max_size = job.domain.shard_size_hint;
  carving.max_shards = options_.max_shards_per_job;
  job.carver = RangeCarver(job.domain.lo, job.domain.hi, carving);
}

void Scheduler::Carve() {
  for (uint64_t job_id : active_jobs_) {
    Job& job = jobs_.at(job_id);
    if (!job.adaptive || job.carver.empty() || job.reducing) continue;
    // Enough queued for every slot that could take a shard now; sized for
    // all the slots that run the job.
    uint64_t room = 0;
    uint64_t slots = 0;
    for (const auto& [id, w] : workers_.workers()) {
      if (!placement::Eligible(job, w, workers_.workers())) continue;
      slots += placement::SlotsFor(job, w);
      const uint64_t capacity = placement::Capacity(job, w, options_);
      const uint64_t held = placement::HeldFor(job, w);
      if (held < capacity) room += capacity - held;
    }
    while (job.queue.size() < room) {
      std::optional<ShardRange> range = job.carver.Next(slots, job.total);
      if (!range.has_value()) break;
      job.AddShard(*range, /*first=*/false);
    }
  }
}

void Scheduler::SplitStragglers(Effects& fx) {
  const absl::Time now = clock_->Now();
  for (uint64_t job_id : active_jobs_) {
    Job& job = jobs_.at(job_id);
    // Commands cannot stop at a new end (their argv is fixed), nor can
    // kernels that do not take their range in chunks (grep, wordcount):
    // asking them only costs a message and a refusal.
    if (!job.adaptive || job.is_command || job.kernel == nullptr ||
        !job.kernel->splittable() || job.reducing ||
        !job.queue.empty() || !job.carver.empty() || job.running == 0) {
      continue;
    }
    const uint64_t idle = placement::IdleSlots(job, workers_.workers());
    uint64_t pending = 0;
    for (const ShardSlot& slot : job.shards) {
      for (const RunningAttempt& a : slot.running) pending += a.split_pending;
    }
    const absl::Duration min_rest = kMinSplitRest;
    for (; pending < idle; ++pending) {
      std::optional<placement::SplitChoice> choice =
          placement::PickSplit(job, now, job.carver.cost(), min_rest);
      if (!choice.has_value()) break;
      RunningAttempt& a = job.shards[choice->shard].running[0];
      a.split_pending = true;
      ConnectedWorker* w = workers_.Find(a.worker_id);
      if (w == nullptr) continue;
      LOG(INFO) << "job " << job.id << ": asking worker " << w->id << " ("
                << w->reg.host() << ") to split shard " << choice->shard
                << " (running " << (now - a.started) << ", keeping "
                << choice->keep << " of its rest)";
      v1::CoordinatorMessage msg;
      v1::ShardRef* ref = msg.mutable_split()->mutable_ref();
      ref->set_job_id(job.id);
      ref->set_shard(choice->shard);
      ref->set_attempt(a.attempt);
      msg.mutable_split()->set_keep(choice->keep);
      fx.outbox.emplace_back(w->link, std::move(msg));
    }
  }
}

void Scheduler::OnSplit(uint64_t worker_id, const v1::ShardSplit& split) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    ConnectedWorker* w = workers_.Find(worker_id);
    if (w == nullptr) return;
    w->last_seen = clock_->Now();
    const v1::ShardRef& ref = split.ref();
    Job* job = FindJob(ref.job_id());
    if (job == nullptr || job->terminal() || !job->adaptive ||
        ref.shard() >= job->total) {
      return;
    }
    RunningAttempt* asked = nullptr;
    for (RunningAttempt& a : job->shards[ref.shard()].running) {
      if (a.worker_id == worker_id && a.attempt == ref.attempt()) asked = &a;
    }
    // Cancelled or lost meanwhile: if it split, its result says so and
    // CoversRange drops it.
    if (asked == nullptr) return;
    asked->split_pending = false;
    const ShardRange range = job->RangeOf(ref.shard());
    if (!split.ok() || split.at() <= range.begin || split.at() >= range.end) {
      LOG(INFO) << "job " << job->id << ": worker " << worker_id
                << " did not split shard " << ref.shard()
                << " (finished, stopping, or too little left)";
      if (split.ok()) {
        LOG(WARNING) << "job " << job->id << ": worker " << worker_id
                     << " split shard " << ref.shard() << " at " << split.at()
                     << ", outside [" << range.begin << ", " << range.end
                     << "); its result will be dropped";
      }
      asked->split_refused = true;
      return;
    }
    const uint64_t rest = job->SplitShard(ref.shard(), split.at());
    LOG(INFO) << "job " << job->id << ": shard " << ref.shard() << " split at "
            << split.at() << "; [" << split.at() << ", " << range.end
            << ") is shard " << rest;
    // A backup started before the split ran the whole old range.
    ShardSlot& slot = job->shards[ref.shard()];
    for (auto it = slot.running.begin(); it != slot.running.end();) {
      if (it->worker_id == worker_id && it->attempt == ref.attempt()) {
        ++it;
        continue;
      }
      LogEnd(*job, *it, v1::ATTEMPT_CANCELLED);
      job->attempts.ExpectLate(it->log_index);
      CancelAttempt(job->id, ref.shard(), *it, fx);
      it = slot.running.erase(it);
    }
    fx.changed.emplace_back(job->id, false);
    Dispatch(fx);
  }
  Apply(std::move(fx));
}

void Scheduler::ObserveCost(Job& job, uint64_t shard, uint64_t worker_id,
                            uint64_t runtime_us) {
  const ShardRange r = job.RangeOf(shard);
  const uint64_t units = r.end - r.begin;
  job.units_done += units;
  if (units == 0) return;
  job.carver.Observe(units, runtime_us);
  const double cost =
      std::max(static_cast<double>(runtime_us), 1.0) / static_cast<double>(units);
  auto [it, fresh] = job.cost_by_worker.try_emplace(worker_id, cost);
  if (!fresh) it->second += kWorkerCostWeight * (cost - it->second);
}

bool Scheduler::ResumeAdaptive(Job& job, JournaledJob& journaled, Effects& fx,
                               std::string& error) {
  MakeAdaptive(job);
  struct Done {
    ShardRange range;
    std::string payload;
  };
  std::vector<Done> done;
  done.reserve(journaled.accepted.size());
  for (auto& [shard, entry] : journaled.accepted) {
    Done d;
    absl::string_view payload;
    if (absl::Status st = SplitRangedPayload(entry, &d.range.begin,
                                             &d.range.end, &payload);
        !st.ok()) {
      error = absl::StrCat("the journal's shard ", shard, ": ", st.message());
      return false;
    }
    d.payload = std::string(payload);
    done.push_back(std::move(d));
  }
  std::sort(done.begin(), done.end(), [](const Done& a, const Done& b) {
    return a.range.begin < b.range.begin;
  });
  uint64_t covered_to = job.domain.lo;
  for (Done& d : done) {
    if (d.range.begin < covered_to || d.range.end > job.domain.hi) {
      error = absl::StrCat("the journal's shard [", d.range.begin, ", ",
                           d.range.end, ") overlaps another or lies outside [",
                           job.domain.lo, ", ", job.domain.hi, ")");
      return false;
    }
    covered_to = d.range.end;
    const uint64_t shard = job.AddShard(d.range, /*first=*/false);
    job.queue.pop_back();
    job.carver.Remove(d.range);
    job.units_done += d.range.end - d.range.begin;
    RestoreShard(job, shard, std::move(d.payload), fx);
  }
  return true;
}

std::string Scheduler::PartName(const Job& job, uint64_t shard) {
  if (!job.adaptive) return PartFileName(shard);
  const ShardRange r = job.RangeOf(shard);
  return RangePartFileName(r.begin, r.end, job.domain.hi);
}

}  // namespace shardex
