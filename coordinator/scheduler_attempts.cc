// The Scheduler's attempt life cycle, under its lock: handing queued shards
// to workers (Dispatch, with Placement's choices), backups of stragglers
// (Speculate), attempts a returning worker still holds (Adopt), lost
// workers, and the results that come back. The public entry points, job
// ends and everything done outside the lock are in scheduler.cc.
#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/placement.h"
#include "coordinator/scheduler.h"
#include "coordinator/shard_batch_codec.h"
#include "glog/logging.h"
#include "kernels/split.h"

namespace shardex {

namespace {

// A shard's error text as kept in the job (it may carry a stderr tail).
constexpr size_t kMaxErrorBytes = 4096;
// JobDefinitions per AssignmentBatch, far below the 64 MiB message limit.
constexpr uint64_t kMaxDefinitionBytes = 8 << 20;

// `text` cut to `max` bytes, saying how much was left out.
std::string Clip(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  return absl::StrCat(text.substr(0, max), "... (", text.size() - max,
                      " more bytes)");
}

// How far back AcceptedShardsRecord looks for a record to add to: a result
// batch touches a few jobs, and a miss only costs one more row.
constexpr int kAcceptedRecordLookBack = 8;

// The kShardsAccepted record of `job_id` among the last records of
// `journal`, or a new one at the end: a result batch journals each job's
// accepted shards as one record, and so one row. It never reaches past
// another record of the job (its end, say), so the order of a job's
// records is kept.
JournalRecord& AcceptedShardsRecord(std::vector<JournalRecord>& journal,
                                    uint64_t job_id) {
  for (int i = static_cast<int>(journal.size()) - 1, looked = 0;
       i >= 0 && looked < kAcceptedRecordLookBack; --i, ++looked) {
    JournalRecord& rec = journal[i];
    if (rec.job_id != job_id) continue;
    if (rec.kind == JournalRecord::Kind::kShardsAccepted) return rec;
    break;
  }
  JournalRecord& rec = journal.emplace_back();
  rec.kind = JournalRecord::Kind::kShardsAccepted;
  rec.job_id = job_id;
  return rec;
}

v1::CoordinatorMessage CancelMessage(uint64_t job_id, uint64_t shard,
                                     uint32_t attempt) {
  v1::CoordinatorMessage msg;
  v1::ShardRef* ref = msg.mutable_cancel()->add_shards();
  ref->set_job_id(job_id);
  ref->set_shard(shard);
  ref->set_attempt(attempt);
  return msg;
}

}  // namespace

// --------------------------------------------------------------- assignment

void Scheduler::Dispatch(Effects& fx) {
  Carve();
  const absl::Time now = clock_->Now();
  if (placement::AnyQueuedJobPrefetches(active_jobs_, jobs_, options_)) {
    for (auto& [wid, w] : workers_.workers()) Offer(w, now, fx);
  } else {
    // Only workers with a free slot can take anything: with long shards
    // on a thousand busy workers, the one or two whose results just came.
    // (A copy: taking work can make a worker full.)
    const std::vector<uint64_t> open(workers_.NotFull().begin(),
                                     workers_.NotFull().end());
    for (uint64_t wid : open) Offer(*workers_.Find(wid), now, fx);
  }
  SplitStragglers(fx);
}

void Scheduler::Offer(ConnectedWorker& w, absl::Time now, Effects& fx) {
  if (w.draining) return;
  v1::CoordinatorMessage msg;
  absl::flat_hash_set<uint64_t> nothing_for_w;
  uint64_t definition_bytes = 0;
  while (const uint64_t job_id =
             placement::PickJobFor(w, active_jobs_, jobs_, workers_.workers(),
                                   nothing_for_w, options_)) {
    Job& job = jobs_.at(job_id);
    // Jobs whose definitions would overfill this batch wait for the next
    // one (its tasks' results bring it).
    const bool new_job = !w.jobs_sent.contains(job_id);
    if (new_job && definition_bytes > 0 &&
        definition_bytes + job.spec_bytes > kMaxDefinitionBytes) {
      nothing_for_w.insert(job_id);
      continue;
    }
    std::optional<size_t> pos =
        placement::PickQueuedShard(job, w, workers_.workers());
    if (!pos.has_value()) {
      nothing_for_w.insert(job_id);
      continue;
    }
    const uint64_t shard = job.queue[*pos];
    job.queue.erase(job.queue.begin() + *pos);
    StartAttempt(job, shard, w, /*speculative=*/false, now, msg);
    if (new_job) definition_bytes += job.spec_bytes;
  }
  if (msg.has_assignments()) fx.outbox.emplace_back(w.link, std::move(msg));
}

void Scheduler::StartAttempt(Job& job, uint64_t shard, ConnectedWorker& w,
                             bool speculative, absl::Time now,
                             v1::CoordinatorMessage& msg) {
  const uint32_t attempt = job.StartAttempt(shard, w.id, now, speculative);
  job.shards[shard].running.back().log_index =
      job.attempts.Start(shard, attempt, w.id, w.reg.host(), now, speculative);
  w.Hold(job.id, shard, attempt, job.is_command);
  v1::AssignmentBatch* batch = msg.mutable_assignments();
  if (w.jobs_sent.insert(job.id).second) {
    v1::JobDefinition* def = batch->add_jobs();
    def->set_job_id(job.id);
    def->set_kernel(job.spec.kernel());
    *def->mutable_args() = job.spec.args();
    if (job.is_command) *def->mutable_command() = job.spec.command();
    def->set_shards(job.adaptive ? 0 : job.total);  // {shards}
    // The client's paths: the worker localizes them with its own cache.
    *def->mutable_staged() = job.spec.staged();
    def->set_shared_fs(job.shared_fs);
  }
  const ShardRange range = job.RangeOf(shard);
  v1::ShardTask* task = batch->add_tasks();
  task->mutable_ref()->set_job_id(job.id);
  task->mutable_ref()->set_shard(shard);
  task->mutable_ref()->set_attempt(attempt);
  task->set_begin(range.begin);
  task->set_end(range.end);
}

void Scheduler::Speculate(Effects& fx) {
  const Options::Speculation& spec = options_.speculation;
  const absl::Time now = clock_->Now();
  std::map<uint64_t, v1::CoordinatorMessage> msgs;  // by worker
  for (uint64_t job_id : active_jobs_) {
    Job& job = jobs_.at(job_id);
    if (!placement::WantsBackups(job, spec)) continue;
    const absl::Duration limit = placement::StragglerLimit(job, spec);
    for (uint64_t i = 0; i < job.total; ++i) {
      const ShardSlot& slot = job.shards[i];
      if (slot.state != v1::SHARD_RUNNING || slot.running.size() != 1 ||
          slot.running[0].split_pending ||
          now - slot.running[0].started <= limit) {
        continue;
      }
      const ConnectedWorker* twin =
          placement::PickTwin(job, slot, workers_.workers());
      if (twin == nullptr) break;  // no idle worker for this job
      LOG(INFO) << "job " << job.id << ": shard " << i << " has run "
                << (now - slot.running[0].started) << " (median shard "
                << job.MedianRuntime() << "); starting a backup on worker "
                << twin->id;
      StartAttempt(job, i, *workers_.Find(twin->id), /*speculative=*/true,
                   now, msgs[twin->id]);
      fx.changed.emplace_back(job.id, false);
    }
  }
  for (auto& [wid, msg] : msgs) {
    fx.outbox.emplace_back(workers_.Find(wid)->link, std::move(msg));
  }
}

void Scheduler::Adopt(ConnectedWorker& w, const v1::ShardRef& ref,
                      const v1::ShardTask* held, Effects& fx) {
  auto cancel = [&] {
    v1::CoordinatorMessage msg;
    *msg.mutable_cancel()->add_shards() = ref;
    fx.outbox.emplace_back(w.link, std::move(msg));
  };
  Job* job = FindJob(ref.job_id());
  if (job == nullptr || job->terminal() || job->reducing ||
      ref.shard() >= job->total || ref.attempt() == 0 ||
      w.running.contains({ref.job_id(), ref.shard()})) {  // listed twice
    if (job != nullptr) ++job->discarded_results;
    cancel();
    return;
  }
  const ShardSlot& slot = job->shards[ref.shard()];
  if (slot.state != v1::SHARD_QUEUED && slot.state != v1::SHARD_RUNNING) {
    ++job->discarded_results;  // done (or skipped) while it was away
    cancel();
    return;
  }
  // An adaptive shard's number says nothing of its range after a restart
  // or a split: only the same range is the same shard.
  if (job->adaptive) {
    const ShardRange range = job->RangeOf(ref.shard());
    if (held == nullptr || held->begin() != range.begin ||
        held->end() != range.end) {
      ++job->discarded_results;
      cancel();
      return;
    }
  }
  const absl::Time now = clock_->Now();
  job->AdoptAttempt(ref.shard(), ref.attempt(), w.id, now);
  // A new entry: the worker's earlier session ended its old one (LOST), or
  // the coordinator restarted and has no record of it.
  job->shards[ref.shard()].running.back().log_index = job->attempts.Start(
      ref.shard(), ref.attempt(), w.id, w.reg.host(), now, false);
  w.Hold(job->id, ref.shard(), ref.attempt(), job->is_command);
  w.jobs_sent.insert(job->id);  // it has the definition
  fx.changed.emplace_back(job->id, false);
}

void Scheduler::CancelAttempt(uint64_t job_id, uint64_t shard,
                              const RunningAttempt& attempt, Effects& fx) {
  ConnectedWorker* w = workers_.Find(attempt.worker_id);
  if (w == nullptr) return;
  w->Release(job_id, shard);
  fx.outbox.emplace_back(w->link,
                         CancelMessage(job_id, shard, attempt.attempt));
}

void Scheduler::CancelAttempts(Job& job, uint64_t shard, Effects& fx) {
  ShardSlot& slot = job.shards[shard];
  for (const RunningAttempt& a : slot.running) {
    LogEnd(job, a, v1::ATTEMPT_CANCELLED);
    // Its result may be on its way: then the entry says DISCARDED.
    job.attempts.ExpectLate(a.log_index);
    CancelAttempt(job.id, shard, a, fx);
  }
  slot.running.clear();
}

void Scheduler::DropWorker(uint64_t worker_id, Effects& fx) {
  ConnectedWorker* w = workers_.Find(worker_id);
  if (w == nullptr) return;
  for (const auto& [key, held] : w->running) {
    Job* job = FindJob(key.first);
    if (job == nullptr || job->terminal()) continue;
    std::optional<RunningAttempt> lost =
        job->EndAttempt(key.second, worker_id, std::nullopt);
    if (!lost.has_value()) continue;
    LogEnd(*job, *lost, v1::ATTEMPT_LOST);
    // A lost worker is not the shard's fault: no failure is counted.
    const ShardSlot& slot = job->shards[key.second];
    if (slot.running.empty() && slot.state == v1::SHARD_RUNNING) {
      job->Requeue(key.second);
    }
    fx.changed.emplace_back(job->id, false);
  }
  if (!w->running.empty()) {
    LOG(INFO) << "worker " << worker_id << " gone; " << w->running.size()
              << " attempts re-queued";
  }
  workers_.Remove(worker_id);
}

// ------------------------------------------------------------------ results

void Scheduler::AcceptResult(ConnectedWorker& w, const v1::ShardResult& r,
                             Effects& fx) {
  const uint64_t job_id = r.ref().job_id();
  const uint64_t shard = r.ref().shard();
  w.ReleaseAttempt(job_id, shard, r.ref().attempt());

  Job* job = FindJob(job_id);
  if (job == nullptr) return;
  if (job->terminal() || shard >= job->total) {
    if (!r.handed_back()) {  // a twin that lost just before the job ended
      job->attempts.Late(shard, r.ref().attempt(), clock_->Now(),
                         r.runtime_us(), r.payload().size());
    }
    ++job->discarded_results;
    return;
  }
  if (!job->CoversRange(shard, r.ref().attempt(), r.end())) {
    // It ran a range the shard no longer has (a backup started before a
    // split) or reports an end it was not given: never the shard's result.
    if (std::optional<RunningAttempt> ran =
            job->EndAttempt(shard, w.id, r.ref().attempt())) {
      LogEnd(*job, *ran, v1::ATTEMPT_DISCARDED, &r);
      const ShardSlot& slot = job->shards[shard];
      if (slot.running.empty() && slot.state == v1::SHARD_RUNNING) {
        job->Requeue(shard);
      }
    }
    ++job->discarded_results;
    fx.changed.emplace_back(job_id, false);
    return;
  }
  // This attempt no longer runs.
  const std::optional<RunningAttempt> ran =
      job->EndAttempt(shard, w.id, r.ref().attempt());
  const bool was_running = ran.has_value();
  const ShardSlot& slot = job->shards[shard];
  if (slot.state == v1::SHARD_SUCCEEDED) {
    if (was_running) {
      LogEnd(*job, *ran, v1::ATTEMPT_DISCARDED, &r);
    } else if (!r.handed_back()) {  // a twin cancelled when the other won
      job->attempts.Late(shard, r.ref().attempt(), clock_->Now(),
                         r.runtime_us(), r.payload().size());
    }
    CompareLate(*job, shard, w, r, fx);  // a late twin, or a worker come back
    return;
  }
  if (slot.state != v1::SHARD_QUEUED && slot.state != v1::SHARD_RUNNING) {
    if (was_running) LogEnd(*job, *ran, v1::ATTEMPT_CANCELLED);
    ++job->discarded_results;  // skipped or cancelled meanwhile
    return;
  }
  if (r.handed_back()) {
    // The worker is draining: not the shard's fault.
    if (was_running) LogEnd(*job, *ran, v1::ATTEMPT_HANDED_BACK, &r);
    if (was_running && slot.running.empty()) job->Requeue(shard);
    fx.changed.emplace_back(job_id, false);
    return;
  }
  if (r.ok()) {
    // Whatever attempt sent it: the first success is the answer.
    if (was_running) LogEnd(*job, *ran, v1::ATTEMPT_SUCCEEDED, &r);
    AcceptSuccess(*job, shard, w, r, fx);
  } else if (was_running) {
    LogEnd(*job, *ran, v1::ATTEMPT_FAILED, &r);
    AcceptFailure(*job, shard, w, r, fx);
  } else {
    ++job->discarded_results;  // a failure of an attempt already let go
  }
}

void Scheduler::CompareLate(Job& job, uint64_t shard, const ConnectedWorker& w,
                            const v1::ShardResult& r, Effects& fx) {
  ++job.discarded_results;
  if (!r.ok() || absl::Hash<std::string>{}(r.payload()) ==
                     job.shards[shard].payload_hash) {
    return;
  }
  if (job.result_mismatches++ == 0) {
    job.mismatch =
        absl::StrCat("shard ", shard, ": attempt ", r.ref().attempt(),
                     " on worker ", w.id, " (", w.reg.host(),
                     ") returned a different result than the accepted attempt "
                     "(non-deterministic kernel or command, or a bad host?)");
  }
  LOG(WARNING) << "job " << job.id << ": " << job.mismatch;
  fx.changed.emplace_back(job.id, false);
}

void Scheduler::AcceptSuccess(Job& job, uint64_t shard, ConnectedWorker& w,
                              const v1::ShardResult& r, Effects& fx) {
  CancelAttempts(job, shard, fx);  // a twin still running loses
  job.AcceptPayload(shard, r.payload(), r.runtime_us());
  if (job.adaptive) ObserveCost(job, shard, w.id, r.runtime_us());
  shard_seconds_.Observe(r.runtime_us() / 1e6);
  retention_.SetHeld(job, job.held_bytes + r.payload().size());
  ++w.completed;
  if (journal_ != nullptr) {  // the payload's one copy for the journal
    std::string* batch = &AcceptedShardsRecord(fx.journal, job.id).data;
    if (job.adaptive) {
      const ShardRange range = job.RangeOf(shard);
      AppendRangedShardEntry(shard, range.begin, range.end, r.payload(), batch);
    } else {
      AppendShardEntry(shard, r.payload(), batch);
    }
  }
  if (!job.output_dir.empty()) {
    fx.parts.push_back({job.output_dir, PartName(job, shard), r.payload()});
  }
  if (std::optional<uint64_t> cutoff = job.kernel->Cutoff(r.payload());
      cutoff.has_value() && *cutoff < job.cutoff) {
    ApplyCutoff(job, *cutoff, fx);
  }
  if (job.AllShardsDone()) {
    StartReduce(job, fx);
  } else {
    fx.changed.emplace_back(job.id, false);
  }
}

void Scheduler::AcceptFailure(Job& job, uint64_t shard, ConnectedWorker& w,
                              const v1::ShardResult& r, Effects& fx) {
  ShardSlot& slot = job.shards[shard];
  const std::string error = Clip(r.error(), kMaxErrorBytes);
  if (slot.history == nullptr) slot.history = std::make_unique<ShardHistory>();
  const bool new_on_worker = !slot.FailedOn(w.id);
  slot.history->failed_on.push_back(w.id);
  slot.history->failed_hosts.push_back(
      absl::StrCat(w.id, " (", w.reg.host(), ")"));
  ++slot.failures;
  fx.changed.emplace_back(job.id, false);

  // A worker failing many different shards of the job is suspect.
  if (new_on_worker &&
      ++job.failures_by_worker[w.id] >= options_.quarantine_after &&
      job.quarantined.insert(w.id).second) {
    LOG(WARNING) << "job " << job.id << ": worker " << w.id << " ("
                 << w.reg.host() << ") failed " << job.failures_by_worker[w.id]
                 << " different shards; quarantined for this job";
  }

  const auto& no_retry = job.spec.command().no_retry_exit_codes();
  if (r.has_exit_code() && std::find(no_retry.begin(), no_retry.end(),
                                     r.exit_code()) != no_retry.end()) {
    slot.state = v1::SHARD_FAILED;
    ++job.failed;
    EndJob(job, v1::JOB_FAILED,
           absl::StrCat("shard ", shard, " exited with code ", r.exit_code(),
                        ", declared non-retriable (--no-retry-exit), on "
                        "attempt ",
                        r.ref().attempt(), " on worker ",
                        slot.history->failed_hosts.back(), ": ", error),
           fx);
    return;
  }
  if (slot.failures >= options_.max_attempts) {
    slot.state = v1::SHARD_FAILED;
    ++job.failed;
    EndJob(job, v1::JOB_FAILED,
           absl::StrCat("shard ", shard, " failed ", slot.failures,
                        " attempts (on workers ",
                        absl::StrJoin(slot.history->failed_hosts, ", "),
                        "); last error: ", error),
           fx);
    return;
  }
  if (slot.running.empty()) job.Requeue(shard);
}

void Scheduler::ApplyCutoff(Job& job, uint64_t cutoff, Effects& fx) {
  for (const auto& [shard, attempt] : job.SkipFrom(cutoff)) {
    LogEnd(job, attempt, v1::ATTEMPT_CANCELLED);
    CancelAttempt(job.id, shard, attempt, fx);
  }
}

void Scheduler::LogEnd(Job& job, const RunningAttempt& attempt,
                       v1::AttemptOutcome outcome, const v1::ShardResult* r) {
  AttemptLog::Ending ending;
  ending.outcome = outcome;
  ending.end = clock_->Now();
  if (r != nullptr) {
    ending.runtime_us = r->runtime_us();
    if (r->has_exit_code()) ending.exit_code = r->exit_code();
    ending.bytes_out = r->payload().size();
    ending.error = r->error();
  }
  job.attempts.End(attempt.log_index, ending);
}

void Scheduler::StartReduce(Job& job, Effects& fx) {
  job.reducing = true;
  fx.to_reduce.push_back(job.id);
}

}  // namespace shardex
