#include "worker/executor.h"

#include <chrono>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/child_env.h"
#include "common/process_runner.h"
#include "common/shard_ref_key.h"
#include "kernels/kernel.h"
#include "worker/command_runner.h"

namespace shardex {

ShardExecutor::ShardExecutor(Options options, ResultSink sink)
    : ShardExecutor(std::move(options),
                    [sink = std::move(sink)](v1::ShardResult r,
                                             std::optional<ShardRange>) {
                      sink(std::move(r));
                    }) {}

ShardExecutor::ShardExecutor(Options options, CoveredResultSink sink)
    : sink_(std::move(sink)),
      options_(std::move(options)),
      pool_(std::make_unique<ThreadPool>(options_.threads)),
      process_pool_(std::make_unique<ThreadPool>(options_.processes)) {
}

ShardExecutor::~ShardExecutor() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    Stop(StopReason::kCancel, /*include_running=*/true);
  }
  pool_.reset();  // queued tasks find their attempts gone and return at once
  process_pool_.reset();
}

v1::ShardResult ShardExecutor::HandedBack(const v1::ShardRef& ref) {
  v1::ShardResult r;
  *r.mutable_ref() = ref;
  r.set_handed_back(true);
  return r;
}

void ShardExecutor::Assign(const v1::AssignmentBatch& batch) {
  absl::flat_hash_set<uint64_t> known;
  bool draining = false;
  {
    absl::MutexLock lock(&mu_);
    draining = draining_;
    for (const v1::JobDefinition& def : batch.jobs()) {
      if (jobs_.contains(def.job_id()) || bad_jobs_.contains(def.job_id())) {
        known.insert(def.job_id());
      }
    }
  }
  // Kernel runners are built outside the lock: validation may take a
  // moment. A job defined again (a new session re-sends definitions) keeps
  // its first entry, which its running attempts already use; job ids are
  // never reused, so the first definition is the only one.
  std::vector<std::pair<uint64_t, absl::StatusOr<JobEntry>>> created;
  for (const v1::JobDefinition& def : batch.jobs()) {
    if (draining || known.contains(def.job_id())) continue;
    absl::StatusOr<JobEntry> entry = NewEntry(def);
    if (!entry.ok() || entry->command) {
      created.emplace_back(def.job_id(), std::move(entry));
      continue;
    }
    const v1::JobDefinition& local =
        entry->staged ? entry->staged->local : def;
    KernelArgs args(local.args().begin(), local.args().end());
    absl::StatusOr<std::unique_ptr<ShardRunner>> runner =
        CreateShardRunner(def.kernel(), args);
    if (!runner.ok()) {
      created.emplace_back(def.job_id(), runner.status());
      continue;
    }
    entry->runner = std::move(runner).value();
    created.emplace_back(def.job_id(), std::move(entry));
  }
  std::vector<std::pair<v1::ShardTask, JobEntry>> run;
  std::vector<v1::ShardResult> immediate;  // rejected or handed back
  std::vector<std::shared_ptr<ShardControl>> flags;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, job] : created) {
      if (job.ok()) {
        jobs_.try_emplace(id, std::move(job).value());
      } else {
        bad_jobs_.try_emplace(id, std::string(job.status().message()));
      }
    }
    for (const v1::ShardTask& task : batch.tasks()) {
      const Key key = KeyOf(task.ref());
      if (attempts_.count(key) > 0) continue;  // already held
      if (draining_) {
        immediate.push_back(HandedBack(task.ref()));
        continue;
      }
      const uint64_t job_id = task.ref().job_id();
      auto it = jobs_.find(job_id);
      if (it == jobs_.end()) {
        v1::ShardResult& r = immediate.emplace_back();
        *r.mutable_ref() = task.ref();
        auto bad = bad_jobs_.find(job_id);
        r.set_error(bad != bad_jobs_.end()
                        ? bad->second
                        : absl::StrCat("no definition for job ", job_id));
        continue;
      }
      auto flag = std::make_shared<ShardControl>(
          ShardRange{task.begin(), task.end()});
      Attempt& a = attempts_[key];
      a.ref = task.ref();
      a.begin = task.begin();
      a.end = task.end();
      a.control = flag;
      a.splittable = it->second.runner && it->second.runner->splittable();
      Queue();
      run.emplace_back(task, it->second);
      flags.push_back(std::move(flag));
    }
    reporting_ += static_cast<int>(immediate.size());
  }
  Report(std::move(immediate));
  // Queued in one hold of each pool's lock, not one per task.
  std::vector<std::function<void()>> kernel_tasks;
  std::vector<std::function<void()>> command_tasks;
  for (size_t i = 0; i < run.size(); ++i) {
    auto& tasks = run[i].second.command ? command_tasks : kernel_tasks;
    tasks.push_back([this, task = std::move(run[i].first),
                     job = std::move(run[i].second),
                     flag = std::move(flags[i])]() mutable {
      Run(task, job, std::move(flag));
    });
  }
  pool_->ScheduleAll(std::move(kernel_tasks));
  process_pool_->ScheduleAll(std::move(command_tasks));
}

absl::StatusOr<ShardExecutor::JobEntry> ShardExecutor::NewEntry(
    const v1::JobDefinition& def) const {
  JobEntry entry;
  entry.shards = def.shards();
  const v1::JobDefinition* local = &def;
  if (options_.stager != nullptr) {
    absl::StatusOr<std::shared_ptr<const StagedJob>> staged =
        options_.stager->Prepare(def);
    if (!staged.ok()) return staged.status();
    entry.staged = *std::move(staged);
    local = &entry.staged->local;
  }
  if (local->has_command()) {
    auto command = std::make_shared<CommandJob>();
    command->spec = local->command();
    if (command->spec.argv_size() > 0) {
      command->program =
          FindProgramAnywhere(command->spec.argv(0), AllowedEnvironment())
              .value_or("");
    }
    entry.command = std::move(command);
  }
  return entry;
}

void ShardExecutor::Cancel(const v1::CancelShards& cancel) {
  {
    absl::MutexLock lock(&mu_);
    StopLocked(cancel);
  }
  // Outside the lock: removing a job's files takes a moment.
  if (options_.stager == nullptr) return;
  for (uint64_t job_id : cancel.job_ids()) options_.stager->Forget(job_id);
}

void ShardExecutor::StopLocked(const v1::CancelShards& cancel) {
  // A queued attempt goes at once; a running one when it notices the flag.
  auto stop = [this](decltype(attempts_)::iterator it)
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                    it->second.control->Cancel();
                    if (!it->second.started) {
                      Unqueue();
                      return attempts_.erase(it);
                    }
                    it->second.stop = StopReason::kCancel;
                    return std::next(it);
                  };
  for (const v1::ShardRef& ref : cancel.shards()) {
    auto it = attempts_.find(KeyOf(ref));
    if (it != attempts_.end()) stop(it);
  }
  for (uint64_t job_id : cancel.job_ids()) {
    for (auto it = attempts_.lower_bound({job_id, 0, 0});
         it != attempts_.end() && std::get<0>(it->first) == job_id;) {
      it = stop(it);
    }
    // The job has ended: no more tasks of it will come, and running
    // attempts hold their own reference to its entry.
    jobs_.erase(job_id);
    bad_jobs_.erase(job_id);
  }
}

size_t ShardExecutor::InFlight() const {
  absl::MutexLock lock(&mu_);
  return attempts_.size();
}

size_t ShardExecutor::KnownJobs() const {
  absl::MutexLock lock(&mu_);
  return jobs_.size() + bad_jobs_.size();
}

ShardExecutor::Counts ShardExecutor::counts() const {
  absl::MutexLock lock(&mu_);
  Counts c;
  for (const auto& [key, a] : attempts_) ++(a.started ? c.running : c.queued);
  return c;
}

std::vector<v1::ShardRef> ShardExecutor::Held() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ShardRef> refs;
  refs.reserve(attempts_.size());
  for (const auto& [key, a] : attempts_) refs.push_back(a.ref);
  return refs;
}

v1::ShardTask ShardExecutor::TaskOf(const Attempt& a) {
  v1::ShardTask t;
  *t.mutable_ref() = a.ref;
  t.set_begin(a.begin);
  t.set_end(a.control->end());
  return t;
}

std::vector<v1::ShardTask> ShardExecutor::HeldTasks() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ShardTask> tasks;
  tasks.reserve(attempts_.size());
  for (const auto& [key, a] : attempts_) tasks.push_back(TaskOf(a));
  return tasks;
}

v1::ShardSplit ShardExecutor::Split(const v1::SplitShard& split) {
  v1::ShardSplit answer;
  *answer.mutable_ref() = split.ref();
  absl::MutexLock lock(&mu_);
  auto it = attempts_.find(KeyOf(split.ref()));
  if (it == attempts_.end()) return answer;
  const Attempt& a = it->second;
  // Under mu_, which Run takes to mark the attempt finished and read its
  // end: a split either happens before that (the result says end = at) or
  // is refused.
  if (!a.splittable || a.finished || a.stop != StopReason::kNone ||
      a.control->cancelled()) {
    return answer;
  }
  const std::optional<uint64_t> at = a.control->Split(split.keep());
  if (!at.has_value()) return answer;
  answer.set_ok(true);
  answer.set_at(*at);
  return answer;
}

void ShardExecutor::SetSplitEnd(const Attempt& a, v1::ShardResult* result) {
  const uint64_t end = a.control->end();
  if (end != a.end) result->set_end(end);
}

void ShardExecutor::StartDrain() {
  std::vector<v1::ShardResult> handed;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    handed = Stop(StopReason::kHandBack, /*include_running=*/false);
    reporting_ += static_cast<int>(handed.size());
  }
  Report(std::move(handed));
}

void ShardExecutor::HandBackRunning() {
  std::vector<v1::ShardResult> handed;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    handed = Stop(StopReason::kHandBack, /*include_running=*/true);
    reporting_ += static_cast<int>(handed.size());
  }
  Report(std::move(handed));
}

void ShardExecutor::CancelAll() {
  absl::MutexLock lock(&mu_);
  Stop(StopReason::kCancel, /*include_running=*/true);
}

bool ShardExecutor::WaitIdle(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return attempts_.empty() && reporting_ == 0;
  };
  if (timeout == absl::InfiniteDuration()) {
    mu_.Await(absl::Condition(&idle));
    return true;
  }
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

std::vector<v1::ShardResult> ShardExecutor::Stop(StopReason reason,
                                                 bool include_running) {
  std::vector<v1::ShardResult> handed;
  for (auto it = attempts_.begin(); it != attempts_.end();) {
    Attempt& a = it->second;
    if (!a.started) {
      Unqueue();
      a.control->Cancel();
      if (reason == StopReason::kHandBack) {
        SetSplitEnd(a, &handed.emplace_back(HandedBack(a.ref)));
      }
      it = attempts_.erase(it);
      continue;
    }
    // A coordinator's cancel stays a cancel: its result is not wanted.
    if (include_running && a.stop != StopReason::kCancel) {
      a.stop = reason;
      a.control->Cancel();
    }
    ++it;
  }
  return handed;
}

void ShardExecutor::Report(std::vector<v1::ShardResult> results) {
  if (results.empty()) return;
  const int n = static_cast<int>(results.size());
  for (v1::ShardResult& r : results) sink_(std::move(r), std::nullopt);
  absl::MutexLock lock(&mu_);
  reporting_ -= n;
}

bool ShardExecutor::Start(const Key& key,
                          const std::shared_ptr<ShardControl>& control) {
  absl::MutexLock lock(&mu_);
  auto it = attempts_.find(key);
  if (it == attempts_.end() || it->second.control != control) return false;
  Unqueue();
  if (control->cancelled()) {
    attempts_.erase(it);
    return false;
  }
  it->second.started = true;
  return true;
}

void ShardExecutor::Run(const v1::ShardTask& task, const JobEntry& job,
                        std::shared_ptr<ShardControl> control) {
  const Key key = KeyOf(task.ref());
  if (!Start(key, control)) return;  // stopped while queued
  v1::ShardResult result;
  Execute(task, job, *control, &result);
  ShardRange covered{task.begin(), task.end()};
  {
    absl::MutexLock lock(&mu_);
    // Still ours: only this thread removes a started attempt.
    auto it = attempts_.find(key);
    // No split after this point (Split checks `finished` under mu_), so
    // the end read here is final.
    it->second.finished = true;
    covered.end = control->end();
    SetSplitEnd(it->second, &result);
    const StopReason stop = it->second.stop;
    if (shutting_down_ || stop == StopReason::kCancel) {
      attempts_.erase(it);  // nobody wants it
      return;
    }
    if (stop == StopReason::kHandBack && !result.ok()) {
      const int64_t runtime_us = result.runtime_us();
      result = HandedBack(task.ref());
      result.set_runtime_us(runtime_us);
      SetSplitEnd(it->second, &result);
    }
  }
  // The attempt stays held until the sink has the result, so that Held()
  // and WaitIdle() never miss it.
  *result.mutable_ref() = task.ref();
  sink_(std::move(result), covered);
  absl::MutexLock lock(&mu_);
  attempts_.erase(key);
}

void ShardExecutor::Execute(const v1::ShardTask& task, const JobEntry& job,
                            ShardControl& control, v1::ShardResult* result) {
  const CancelFlag& cancel = control.cancel_flag();
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> payload;
  std::vector<ProcessSpec::Link> links;
  absl::Status staged = absl::OkStatus();
  if (job.staged != nullptr) {
    staged = options_.stager->BeforeShard(*job.staged, task, cancel, &links);
  }
  if (!staged.ok()) {
    payload = staged;
  } else if (job.command) {
    CommandShard shard{task.ref().job_id(), &job.command->spec, job.shards,
                       task};
    shard.program = job.command->program;
    shard.links = std::move(links);
    CommandShardOutcome out =
        RunCommandShard(shard, options_.scratch_root, cancel, &work_dirs_,
                        control.WakeFd());
    payload = std::move(out.payload);
    if (out.exit_code.has_value()) result->set_exit_code(*out.exit_code);
  } else {
    payload =
        job.runner->RunShard(ShardRange{task.begin(), task.end()}, control);
  }
  result->set_runtime_us(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count());
  if (payload.ok()) {
    result->set_ok(true);
    result->set_payload(*std::move(payload));
  } else {
    result->set_error(std::string(payload.status().message()));
  }
}

}  // namespace shardex
