#include "coordinator/scheduler.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "glog/logging.h"
#include "kernels/split.h"

namespace shardex {

namespace v1 = ::shardex::v1;

Scheduler::Scheduler(Options options, Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

void Scheduler::SetJobListener(JobListener listener) {
  listener_ = std::move(listener);
}

// ------------------------------------------------------------ client calls

absl::StatusOr<std::shared_ptr<const KernelJob>> Scheduler::Plan(
    v1::JobSpec& spec) {
  if (!spec.output_dir().empty()) {
    if (absl::Status st = PrepareOutputDir(spec.output_dir()); !st.ok()) {
      return st;
    }
  }
  if (!spec.has_command()) {
    FillRandomArgs(spec);
    KernelArgs args(spec.args().begin(), spec.args().end());
    absl::StatusOr<std::unique_ptr<KernelJob>> kernel =
        CreateKernelJob(spec.kernel(), args);
    if (!kernel.ok()) return kernel.status();
    return std::shared_ptr<const KernelJob>(std::move(kernel).value());
  }
  if (!spec.kernel().empty() || !spec.args().empty()) {
    return absl::InvalidArgumentError(
        "a job runs a kernel or a command, not both");
  }
  if (!options_.allow_commands) {
    return absl::PermissionDeniedError(
        "this coordinator does not run command jobs (they run programs on "
        "the workers); start it with --allow-commands to allow them");
  }
  v1::CommandSpec resolved;
  absl::StatusOr<std::unique_ptr<KernelJob>> command =
      CreateCommandJob(spec.command(), options_.commands, &resolved);
  if (!command.ok()) return command.status();
  *spec.mutable_command() = std::move(resolved);
  return std::shared_ptr<const KernelJob>(std::move(command).value());
}

absl::StatusOr<v1::JobStatus> Scheduler::Submit(v1::JobSpec spec) {
  absl::StatusOr<std::shared_ptr<const KernelJob>> planned = Plan(spec);
  if (!planned.ok()) return planned.status();
  std::shared_ptr<const KernelJob> kernel_job = std::move(planned).value();
  const Domain domain = kernel_job->domain();

  Effects fx;
  v1::JobStatus status;
  {
    absl::MutexLock lock(&mu_);
    uint64_t shards = spec.shards();
    if (shards == 0) shards = DefaultShardCount(domain, TotalSlots());
    absl::Status valid =
        ValidateShardCount(domain, shards, options_.max_shards_per_job);
    if (!valid.ok()) return valid;
    spec.set_shards(shards);

    const uint64_t id = next_job_id_++;
    Job& job = jobs_[id];
    job.id = id;
    job.spec = std::move(spec);
    job.kernel = std::move(kernel_job);
    job.domain = domain;
    job.is_command = job.spec.has_command();
    job.shards.resize(shards);
    job.payloads.resize(shards);
    for (uint64_t i = 0; i < shards; ++i) job.queue.push_back(i);
    job.submit_time = clock_->Now();
    active_jobs_.push_back(id);
    Dispatch(fx);
    status = job.Status();
    fx.changed.emplace_back(id, false);
  }
  Apply(std::move(fx));
  return status;
}

absl::StatusOr<v1::JobStatus> Scheduler::GetJob(uint64_t job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  return it->second.Status();
}

absl::StatusOr<v1::JobStatus> Scheduler::Cancel(uint64_t job_id) {
  Effects fx;
  v1::JobStatus status;
  {
    absl::MutexLock lock(&mu_);
    Job* job = FindJob(job_id);
    if (job == nullptr) {
      return absl::NotFoundError(absl::StrCat("no job ", job_id));
    }
    if (job->terminal()) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", job_id, " has already ended (",
                       v1::JobState_Name(job->state), ")"));
    }
    EndJob(*job, v1::JOB_CANCELLED, "cancelled by client", fx);
    Dispatch(fx);  // the freed slots go to other jobs
    status = job->Status();
  }
  Apply(std::move(fx));
  return status;
}

std::vector<v1::JobStatus> Scheduler::ListJobs() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::JobStatus> out;
  out.reserve(jobs_.size());
  for (const auto& [id, job] : jobs_) out.push_back(job.Status());
  return out;
}

std::vector<v1::WorkerInfo> Scheduler::ListWorkers() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, w] : workers_) {
    v1::WorkerInfo& info = out.emplace_back();
    info.set_worker_id(id);
    info.set_host(w.reg.host());
    info.set_slots(w.reg.slots());
    info.set_pid(w.reg.pid());
    info.set_version(w.reg.version());
    info.set_peer(w.peer);
    info.set_running(w.running.size());
    info.set_processes(w.reg.processes());
    info.set_completed(w.completed);
    info.set_connected_unix_ms(absl::ToUnixMillis(w.connected));
    info.set_last_heartbeat_unix_ms(absl::ToUnixMillis(w.last_seen));
  }
  return out;
}

// ------------------------------------------------------------ worker calls

absl::StatusOr<uint64_t> Scheduler::AddWorker(const v1::Register& reg,
                                              std::string peer,
                                              std::shared_ptr<WorkerLink> link) {
  if (reg.slots() == 0) {
    return absl::InvalidArgumentError("register: slots must be at least 1");
  }
  Effects fx;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_worker_id_++;
    Worker& w = workers_[id];
    w.id = id;
    w.reg = reg;
    w.peer = std::move(peer);
    w.link = std::move(link);
    w.connected = w.last_seen = clock_->Now();

    v1::CoordinatorMessage hello;
    hello.mutable_registered()->set_worker_id(id);
    hello.mutable_registered()->set_heartbeat_interval_ms(
        absl::ToInt64Milliseconds(options_.heartbeat_interval));
    fx.outbox.emplace_back(w.link, std::move(hello));
    Dispatch(fx);
  }
  Apply(std::move(fx));
  return id;
}

void Scheduler::RemoveWorker(uint64_t worker_id) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    DropWorker(worker_id, fx);
    Dispatch(fx);
  }
  Apply(std::move(fx));
}

absl::Status Scheduler::OnResults(uint64_t worker_id,
                                  const v1::ResultBatch& batch) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it == workers_.end()) {
      return absl::NotFoundError(absl::StrCat("no worker ", worker_id));
    }
    Worker& w = it->second;
    w.last_seen = clock_->Now();
    for (const v1::ShardResult& r : batch.results()) AcceptResult(w, r, fx);
    Dispatch(fx);
  }
  Apply(std::move(fx));
  return absl::OkStatus();
}

void Scheduler::OnHeartbeat(uint64_t worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it != workers_.end()) it->second.last_seen = clock_->Now();
}

void Scheduler::Tick() {
  Effects fx;
  std::vector<std::shared_ptr<WorkerLink>> to_close;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    std::vector<uint64_t> expired;
    for (const auto& [id, w] : workers_) {
      if (now - w.last_seen > options_.heartbeat_timeout) {
        expired.push_back(id);
      }
    }
    for (uint64_t id : expired) {
      to_close.push_back(workers_[id].link);
      DropWorker(id, fx);
    }
    if (!expired.empty()) Dispatch(fx);
  }
  for (auto& link : to_close) {
    link->Close(absl::UnavailableError("missed heartbeats"));
  }
  Apply(std::move(fx));
}

// ---------------------------------------------------------------- internals

void Scheduler::FillRandomArgs(v1::JobSpec& spec) {
  const KernelInfo* info = FindKernel(spec.kernel());
  if (info == nullptr) return;  // Submit reports the unknown kernel
  for (const KernelParam& p : info->params) {
    if (p.random_if_absent && spec.args().count(p.name) == 0) {
      absl::MutexLock lock(&rng_mu_);
      (*spec.mutable_args())[p.name] =
          absl::StrCat(absl::Uniform<uint64_t>(rng_));
    }
  }
}

Job* Scheduler::FindJob(uint64_t id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

uint64_t Scheduler::TotalSlots() const {
  uint64_t slots = 0;
  for (const auto& [id, w] : workers_) slots += w.reg.slots();
  return slots;
}

uint64_t Scheduler::Capacity(const Job& job, const Worker& w) const {
  const uint64_t slots = job.is_command ? w.reg.processes() : w.reg.slots();
  if (slots == 0) return 0;
  if (job.avg_runtime_us < 0) return slots;  // nothing known yet
  const double window_us =
      absl::ToDoubleMicroseconds(options_.prefetch_window);
  const double ahead = window_us / std::max(job.avg_runtime_us, 1.0);
  const uint64_t extra = std::min<uint64_t>(
      options_.max_prefetch, static_cast<uint64_t>(slots * std::floor(ahead)));
  return slots + extra;
}

Job* Scheduler::PickJobFor(const Worker& w) {
  // Max-min fairness: the runnable job with the fewest running shards.
  Job* best = nullptr;
  for (uint64_t id : active_jobs_) {
    Job& job = jobs_[id];
    const uint64_t held = job.is_command
                              ? w.running_commands
                              : w.running.size() - w.running_commands;
    if (job.queue.empty() || held >= Capacity(job, w)) continue;
    if (best == nullptr || job.running < best->running) best = &job;
  }
  return best;
}

void Scheduler::Dispatch(Effects& fx) {
  for (auto& [wid, w] : workers_) {
    v1::CoordinatorMessage msg;
    v1::AssignmentBatch* batch = nullptr;
    while (Job* job = PickJobFor(w)) {
      if (batch == nullptr) batch = msg.mutable_assignments();
      const uint64_t shard = job->queue.front();
      job->queue.pop_front();
      ShardSlot& slot = job->shards[shard];
      slot.state = v1::SHARD_RUNNING;
      slot.worker_id = wid;
      if (++slot.attempt > 1) ++job->retries;
      ++job->running;
      if (job->state == v1::JOB_QUEUED) {
        job->state = v1::JOB_RUNNING;
        job->start_time = clock_->Now();
      }
      Hold(w, *job, shard, slot.attempt);
      if (w.jobs_sent.insert(job->id).second) {
        v1::JobDefinition* def = batch->add_jobs();
        def->set_job_id(job->id);
        def->set_kernel(job->spec.kernel());
        *def->mutable_args() = job->spec.args();
        if (job->is_command) *def->mutable_command() = job->spec.command();
        def->set_shards(job->shards.size());
      }
      const ShardRange range =
          ShardRangeOf(job->domain, job->shards.size(), shard);
      v1::ShardTask* task = batch->add_tasks();
      task->mutable_ref()->set_job_id(job->id);
      task->mutable_ref()->set_shard(shard);
      task->mutable_ref()->set_attempt(slot.attempt);
      task->set_begin(range.begin);
      task->set_end(range.end);
    }
    if (batch != nullptr) fx.outbox.emplace_back(w.link, std::move(msg));
  }
}

void Scheduler::AcceptResult(Worker& w, const v1::ShardResult& r,
                             Effects& fx) {
  const uint64_t job_id = r.ref().job_id();
  const uint64_t shard = r.ref().shard();
  auto held = w.running.find({job_id, shard});
  const bool current =
      held != w.running.end() && held->second.attempt == r.ref().attempt();
  if (current) Release(w, job_id, shard);

  Job* job = FindJob(job_id);
  if (job == nullptr || shard >= job->shards.size()) return;
  ShardSlot& slot = job->shards[shard];
  if (!current || job->terminal() || slot.state != v1::SHARD_RUNNING ||
      slot.worker_id != w.id || slot.attempt != r.ref().attempt()) {
    ++job->discarded_results;  // late, duplicate or cancelled attempt
    return;
  }
  --job->running;
  const double us = static_cast<double>(r.runtime_us());
  job->avg_runtime_us =
      job->avg_runtime_us < 0 ? us : 0.9 * job->avg_runtime_us + 0.1 * us;

  if (!r.ok()) {
    Requeue(*job, shard, /*count_failure=*/true,
            absl::StrCat("worker ", w.id, " (", w.reg.host(), "): ", r.error()),
            fx);
    fx.changed.emplace_back(job_id, job->terminal());
    return;
  }
  slot.state = v1::SHARD_SUCCEEDED;
  slot.worker_id = 0;
  job->payloads[shard] = r.payload();
  ++job->succeeded;
  ++w.completed;
  if (!job->spec.output_dir().empty()) {
    fx.parts.push_back({job->spec.output_dir(), shard, r.payload()});
  }
  if (std::optional<uint64_t> cutoff = job->kernel->Cutoff(r.payload());
      cutoff.has_value() && *cutoff < job->cutoff) {
    ApplyCutoff(*job, *cutoff, fx);
  }
  if (AllShardsDone(*job)) {
    job->reducing = true;
    fx.to_reduce.push_back(job_id);
  } else {
    fx.changed.emplace_back(job_id, false);
  }
}

void Scheduler::Requeue(Job& job, uint64_t shard, bool count_failure,
                        const std::string& error, Effects& fx) {
  ShardSlot& slot = job.shards[shard];
  slot.worker_id = 0;
  if (count_failure && ++slot.failures >= options_.max_attempts) {
    slot.state = v1::SHARD_FAILED;
    ++job.failed;
    EndJob(job, v1::JOB_FAILED,
           absl::StrCat("shard ", shard, " failed after ", slot.failures,
                        " attempts; last error: ", error),
           fx);
    return;
  }
  slot.state = v1::SHARD_QUEUED;
  job.queue.push_front(shard);  // retried before fresh shards
}

void Scheduler::EndJob(Job& job, v1::JobState state, std::string error,
                       Effects& fx) {
  job.state = state;
  job.error = std::move(error);
  job.end_time = clock_->Now();
  for (ShardSlot& slot : job.shards) {
    if (slot.state == v1::SHARD_QUEUED || slot.state == v1::SHARD_RUNNING) {
      slot.state = v1::SHARD_CANCELLED;
      slot.worker_id = 0;
      ++job.cancelled;
    }
  }
  job.queue.clear();
  job.running = 0;
  job.payloads.clear();
  job.payloads.shrink_to_fit();
  active_jobs_.erase(
      std::remove(active_jobs_.begin(), active_jobs_.end(), job.id),
      active_jobs_.end());
  // Stop the job's attempts wherever they run, and free their slots now.
  for (auto& [wid, w] : workers_) {
    bool held = false;
    std::vector<uint64_t> shards;
    for (const auto& [key, h] : w.running) {
      if (key.first == job.id) shards.push_back(key.second);
    }
    for (uint64_t shard : shards) Release(w, job.id, shard);
    held = !shards.empty();
    if (held) {
      v1::CoordinatorMessage msg;
      msg.mutable_cancel()->add_job_ids(job.id);
      fx.outbox.emplace_back(w.link, std::move(msg));
    }
  }
  fx.changed.emplace_back(job.id, true);
}

void Scheduler::DropWorker(uint64_t worker_id, Effects& fx) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  for (const auto& [key, h] : w.running) {
    Job* job = FindJob(key.first);
    if (job == nullptr || job->terminal()) continue;
    ShardSlot& slot = job->shards[key.second];
    if (slot.state != v1::SHARD_RUNNING || slot.worker_id != worker_id) {
      continue;
    }
    --job->running;
    // A lost worker is not the shard's fault: no failure is counted.
    Requeue(*job, key.second, /*count_failure=*/false, "", fx);
    fx.changed.emplace_back(job->id, false);
  }
  workers_.erase(it);
}

void Scheduler::Hold(Worker& w, const Job& job, uint64_t shard,
                     uint32_t attempt) {
  w.running[{job.id, shard}] = Held{attempt, job.is_command};
  if (job.is_command) ++w.running_commands;
}

void Scheduler::Release(Worker& w, uint64_t job_id, uint64_t shard) {
  auto it = w.running.find({job_id, shard});
  if (it == w.running.end()) return;
  if (it->second.command) --w.running_commands;
  w.running.erase(it);
}

bool Scheduler::AllShardsDone(const Job& job) {
  return job.succeeded + job.skipped == job.shards.size();
}

void Scheduler::ApplyCutoff(Job& job, uint64_t cutoff, Effects& fx) {
  job.cutoff = cutoff;
  std::vector<bool> skip(job.shards.size(), false);
  for (uint64_t i = 0; i < job.shards.size(); ++i) {
    ShardSlot& slot = job.shards[i];
    if (slot.state != v1::SHARD_QUEUED && slot.state != v1::SHARD_RUNNING) {
      continue;
    }
    if (ShardRangeOf(job.domain, job.shards.size(), i).begin < cutoff) continue;
    if (slot.state == v1::SHARD_RUNNING) {
      auto w = workers_.find(slot.worker_id);
      if (w != workers_.end()) {
        Release(w->second, job.id, i);
        v1::CoordinatorMessage msg;
        v1::ShardRef* ref = msg.mutable_cancel()->add_shards();
        ref->set_job_id(job.id);
        ref->set_shard(i);
        ref->set_attempt(slot.attempt);
        fx.outbox.emplace_back(w->second.link, std::move(msg));
      }
      --job.running;
    }
    slot.state = v1::SHARD_CANCELLED;
    slot.worker_id = 0;
    skip[i] = true;
    ++job.skipped;
  }
  job.queue.erase(std::remove_if(job.queue.begin(), job.queue.end(),
                                 [&](uint64_t i) { return skip[i]; }),
                  job.queue.end());
}

void Scheduler::Apply(Effects fx) {
  for (auto& [link, msg] : fx.outbox) link->Send(std::move(msg));
  // Disk writes (with fsync) go to the reducer thread, never a gRPC thread;
  // being FIFO, it writes a job's parts before its result.
  for (PartWrite& part : fx.parts) {
    reducer_.Schedule([part = std::move(part)] {
      absl::Status st = WriteFileAtomically(
          absl::StrCat(part.dir, "/", PartFileName(part.shard)), part.data);
      if (!st.ok()) LOG(WARNING) << "writing a shard output: " << st;
    });
  }
  for (uint64_t job_id : fx.to_reduce) {
    reducer_.Schedule([this, job_id] { Reduce(job_id); });
  }
  Notify(fx.changed);
}

void Scheduler::Notify(const std::vector<std::pair<uint64_t, bool>>& changed) {
  if (!listener_) return;
  for (const auto& [job_id, terminal] : changed) listener_(job_id, terminal);
}

void Scheduler::Reduce(uint64_t job_id) {
  std::shared_ptr<const KernelJob> kernel;
  std::vector<std::string> payloads;
  std::string output_dir;
  {
    absl::MutexLock lock(&mu_);
    Job* job = FindJob(job_id);
    if (job == nullptr || !job->reducing) return;
    kernel = job->kernel;
    payloads = std::move(job->payloads);
    output_dir = job->spec.output_dir();
  }
  absl::StatusOr<KernelResult> result = kernel->Reduce(payloads);
  payloads.clear();
  if (result.ok() && !output_dir.empty()) {
    absl::Status st =
        WriteFileAtomically(absl::StrCat(output_dir, "/result"), result->value);
    if (st.ok()) st = WriteFileAtomically(absl::StrCat(output_dir, "/_SUCCESS"), "");
    if (!st.ok()) result = st;
  }
  {
    absl::MutexLock lock(&mu_);
    Job& job = *FindJob(job_id);
    if (job.terminal()) return;  // cancelled while reducing
    job.reducing = false;
    job.end_time = clock_->Now();
    job.payloads.clear();
    if (result.ok()) {
      job.state = v1::JOB_SUCCEEDED;
      job.result.set_value(result->value);
      for (const auto& [k, v] : result->details) {
        (*job.result.mutable_details())[k] = v;
      }
    } else {
      job.state = v1::JOB_FAILED;
      job.error = absl::StrCat("reduce failed: ", result.status().message());
    }
    active_jobs_.erase(
        std::remove(active_jobs_.begin(), active_jobs_.end(), job_id),
        active_jobs_.end());
  }
  Notify({{job_id, true}});
}

}  // namespace shardex
