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

Scheduler::Scheduler(Options options, Clock* clock, Journal* journal)
    : options_(std::move(options)), clock_(clock), journal_(journal) {}

void Scheduler::SetJobListener(JobListener listener) {
  listener_ = std::move(listener);
}

absl::Status Scheduler::SyncJournal() {
  return journal_ == nullptr ? absl::OkStatus() : journal_->Sync();
}

// ------------------------------------------------------------ client calls

absl::StatusOr<std::shared_ptr<const KernelJob>> Scheduler::Plan(
    v1::JobSpec& spec, bool resuming) {
  if (!spec.output_dir().empty() && !resuming) {
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

void Scheduler::SubmitAsync(v1::JobSpec spec, std::string request_id,
                            SubmitCallback done) {
  submitter_.Schedule([this, spec = std::move(spec),
                       request_id = std::move(request_id),
                       done = std::move(done)]() mutable {
    done(Submit(std::move(spec), request_id));
  });
}

absl::StatusOr<v1::JobStatus> Scheduler::Submit(v1::JobSpec spec,
                                                const std::string& request_id) {
  // A retried request: answer with the job the first one made.
  if (!request_id.empty()) {
    absl::MutexLock lock(&mu_);
    auto it = requests_.find(request_id);
    if (it != requests_.end()) {
      if (it->second == 0) {
        return absl::UnavailableError(
            "a submit with this request id is in progress; retry");
      }
      return jobs_.at(it->second).Status();
    }
    requests_[request_id] = 0;
  }
  auto forget_request = [&] {
    if (request_id.empty()) return;
    absl::MutexLock lock(&mu_);
    requests_.erase(request_id);
  };

  absl::StatusOr<std::shared_ptr<const KernelJob>> planned =
      Plan(spec, /*resuming=*/false);
  if (!planned.ok()) {
    forget_request();
    return planned.status();
  }
  std::shared_ptr<const KernelJob> kernel_job = std::move(planned).value();
  const Domain domain = kernel_job->domain();

  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    uint64_t shards = spec.shards();
    if (shards == 0) shards = DefaultShardCount(domain, TotalSlots());
    absl::Status valid =
        ValidateShardCount(domain, shards, options_.max_shards_per_job);
    if (!valid.ok()) {
      requests_.erase(request_id);
      return valid;
    }
    spec.set_shards(shards);
    id = next_job_id_++;
  }
  const absl::Time submitted = clock_->Now();

  // On disk before anyone hears of the job.
  if (journal_ != nullptr) {
    JournalRecord rec;
    rec.kind = JournalRecord::Kind::kJobCreated;
    rec.job_id = id;
    rec.request_id = request_id;
    rec.data = spec.SerializeAsString();
    rec.submit_unix_ms = absl::ToUnixMillis(submitted);
    journal_->Append({std::move(rec)});
    if (absl::Status st = journal_->Sync(); !st.ok()) {
      forget_request();
      return absl::UnavailableError(absl::StrCat(
          "cannot record the job in the state directory: ", st.message()));
    }
  }

  Effects fx;
  v1::JobStatus status;
  {
    absl::MutexLock lock(&mu_);
    Job& job = jobs_[id];
    job.id = id;
    job.request_id = request_id;
    job.spec = std::move(spec);
    job.kernel = std::move(kernel_job);
    job.domain = domain;
    job.is_command = job.spec.has_command();
    job.total = job.spec.shards();
    job.shards.resize(job.total);
    job.payloads.resize(job.total);
    for (uint64_t i = 0; i < job.total; ++i) job.queue.push_back(i);
    job.submit_time = submitted;
    active_jobs_.push_back(id);
    if (!request_id.empty()) requests_[request_id] = id;
    Dispatch(fx);
    status = job.Status();
    fx.changed.emplace_back(id, false);
  }
  Apply(std::move(fx));
  return status;
}

absl::Status Scheduler::Recover() {
  if (journal_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::vector<JournaledJob>> loaded = journal_->Load();
  if (!loaded.ok()) return loaded.status();
  Effects fx;
  size_t resumed = 0;
  for (JournaledJob& journaled : *loaded) {
    if (journaled.ended) {
      absl::MutexLock lock(&mu_);
      Job& job = jobs_[journaled.id];
      job.id = journaled.id;
      job.request_id = journaled.request_id;
      job.state = journaled.final_status.state();
      job.total = journaled.spec.shards();
      job.spec = std::move(journaled.spec);
      job.archived = std::move(journaled.final_status);
      next_job_id_ = std::max(next_job_id_, job.id + 1);
      if (!job.request_id.empty()) requests_[job.request_id] = job.id;
      continue;
    }
    ++resumed;
    // Planning may read files: outside the lock.
    absl::StatusOr<std::shared_ptr<const KernelJob>> planned =
        Plan(journaled.spec, /*resuming=*/true);
    absl::MutexLock lock(&mu_);
    next_job_id_ = std::max(next_job_id_, journaled.id + 1);
    if (!journaled.request_id.empty()) {
      requests_[journaled.request_id] = journaled.id;
    }
    Job& job = jobs_[journaled.id];
    job.id = journaled.id;
    job.request_id = journaled.request_id;
    job.spec = std::move(journaled.spec);
    job.total = job.spec.shards();
    job.submit_time = absl::FromUnixMillis(journaled.submit_unix_ms);
    job.is_command = job.spec.has_command();
    if (!planned.ok()) {
      EndJob(job, v1::JOB_FAILED,
             absl::StrCat("cannot resume after a coordinator restart: ",
                          planned.status().message()),
             fx);
      continue;
    }
    job.kernel = std::move(planned).value();
    job.domain = job.kernel->domain();
    Resume(std::move(journaled), fx);
  }
  {
    absl::MutexLock lock(&mu_);
    Dispatch(fx);
  }
  LOG(INFO) << "state: " << loaded->size() << " jobs journaled, " << resumed
            << " resumed";
  Apply(std::move(fx));
  return absl::OkStatus();
}

void Scheduler::Resume(JournaledJob journaled, Effects& fx) {
  Job& job = jobs_[journaled.id];
  job.shards.resize(job.total);
  job.payloads.resize(job.total);
  for (auto& [shard, payload] : journaled.accepted) {
    if (shard >= job.total) continue;
    ShardSlot& slot = job.shards[shard];
    if (slot.state == v1::SHARD_SUCCEEDED) continue;
    slot.state = v1::SHARD_SUCCEEDED;
    slot.payload_hash = absl::Hash<std::string>{}(payload);
    ++job.succeeded;
    // A crash can come between the journal and the part file.
    if (!job.spec.output_dir().empty()) {
      fx.parts.push_back({job.spec.output_dir(), shard, payload});
    }
    job.payloads[shard] = std::move(payload);
  }
  for (uint64_t i = 0; i < job.total; ++i) {
    if (job.shards[i].state != v1::SHARD_SUCCEEDED) continue;
    std::optional<uint64_t> cutoff = job.kernel->Cutoff(job.payloads[i]);
    if (cutoff.has_value() && *cutoff < job.cutoff) ApplyCutoff(job, *cutoff, fx);
  }
  for (uint64_t i = 0; i < job.total; ++i) {
    if (job.shards[i].state == v1::SHARD_QUEUED) job.queue.push_back(i);
  }
  active_jobs_.push_back(job.id);
  if (job.succeeded > 0) {
    job.state = v1::JOB_RUNNING;
    job.start_time = job.submit_time;
  }
  if (AllShardsDone(job)) {
    job.reducing = true;
    fx.to_reduce.push_back(job.id);
  }
  fx.changed.emplace_back(job.id, false);
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
    info.set_draining(w.draining);
    for (uint64_t job_id : active_jobs_) {
      const Job& job = jobs_.at(job_id);
      if (job.quarantined.contains(id)) info.add_quarantined_jobs(job_id);
    }
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
    w.reg.clear_running();
    w.peer = std::move(peer);
    w.link = std::move(link);
    w.connected = w.last_seen = clock_->Now();

    v1::CoordinatorMessage hello;
    hello.mutable_registered()->set_worker_id(id);
    // At least three heartbeats fit in the timeout, however short.
    hello.mutable_registered()->set_heartbeat_interval_ms(
        absl::ToInt64Milliseconds(std::min(options_.heartbeat_interval,
                                           options_.heartbeat_timeout / 3)));
    fx.outbox.emplace_back(w.link, std::move(hello));
    for (const v1::ShardRef& ref : reg.running()) Adopt(w, ref, fx);
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

void Scheduler::OnDrain(uint64_t worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  it->second.draining = true;
  it->second.last_seen = clock_->Now();
  LOG(INFO) << "worker " << worker_id << " (" << it->second.reg.host()
            << ") is draining";
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
      LOG(WARNING) << "worker " << id << " (" << workers_[id].reg.host()
                   << ") missed heartbeats for "
                   << options_.heartbeat_timeout << "; dropping it";
      to_close.push_back(workers_[id].link);
      DropWorker(id, fx);
    }
    if (!expired.empty()) Dispatch(fx);
    if (options_.speculation.enabled) Speculate(fx);
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
  if (slots == 0 || w.draining) return 0;
  if (job.avg_runtime_us < 0) return slots;  // nothing known yet
  const double window_us =
      absl::ToDoubleMicroseconds(options_.prefetch_window);
  const double ahead = window_us / std::max(job.avg_runtime_us, 1.0);
  const uint64_t extra = std::min<uint64_t>(
      options_.max_prefetch, static_cast<uint64_t>(slots * std::floor(ahead)));
  return slots + extra;
}

uint64_t Scheduler::HeldFor(const Job& job, const Worker& w) {
  return job.is_command ? w.running_commands
                        : w.running.size() - w.running_commands;
}

bool Scheduler::Quarantined(const Job& job, const Worker& w) const {
  if (!job.quarantined.contains(w.id)) return false;
  // Only while some other worker can run the job: a quarantine must not
  // stall it.
  for (const auto& [id, other] : workers_) {
    if (id == w.id || other.draining || job.quarantined.contains(id)) continue;
    if ((job.is_command ? other.reg.processes() : other.reg.slots()) > 0) {
      return true;
    }
  }
  return false;
}

bool Scheduler::Eligible(const Job& job, const Worker& w) const {
  if (w.draining) return false;
  if ((job.is_command ? w.reg.processes() : w.reg.slots()) == 0) return false;
  return job.quarantined.empty() || !Quarantined(job, w);
}

Job* Scheduler::PickJobFor(const Worker& w,
                           const absl::flat_hash_set<uint64_t>& skip) {
  // Max-min fairness: the runnable job with the fewest running shards.
  Job* best = nullptr;
  for (uint64_t id : active_jobs_) {
    Job& job = jobs_[id];
    if (job.queue.empty() || HeldFor(job, w) >= Capacity(job, w)) continue;
    if (skip.contains(id) || !Eligible(job, w)) continue;
    if (best == nullptr || job.running < best->running) best = &job;
  }
  return best;
}

std::optional<uint64_t> Scheduler::PopShardFor(Job& job, const Worker& w) {
  // Retries sit at the front; look a little way past shards that failed on
  // this worker when another worker could take them.
  constexpr size_t kScan = 64;
  for (size_t i = 0; i < job.queue.size() && i < kScan; ++i) {
    const uint64_t shard = job.queue[i];
    const ShardSlot& slot = job.shards[shard];
    bool take = !slot.FailedOn(w.id);
    if (!take) {
      take = true;  // unless another eligible worker has not failed it
      for (const auto& [id, other] : workers_) {
        if (id != w.id && !slot.FailedOn(id) && Eligible(job, other)) {
          take = false;
          break;
        }
      }
    }
    if (take) {
      job.queue.erase(job.queue.begin() + i);
      return shard;
    }
  }
  return std::nullopt;
}

void Scheduler::Dispatch(Effects& fx) {
  for (auto& [wid, w] : workers_) {
    if (w.draining) continue;
    v1::CoordinatorMessage msg;
    absl::flat_hash_set<uint64_t> nothing_for_w;
    while (Job* job = PickJobFor(w, nothing_for_w)) {
      std::optional<uint64_t> shard = PopShardFor(*job, w);
      if (!shard.has_value()) {
        nothing_for_w.insert(job->id);
        continue;
      }
      StartAttempt(*job, *shard, w, /*speculative=*/false, msg);
    }
    if (msg.has_assignments()) fx.outbox.emplace_back(w.link, std::move(msg));
  }
}

void Scheduler::StartAttempt(Job& job, uint64_t shard, Worker& w,
                             bool speculative, v1::CoordinatorMessage& msg) {
  v1::AssignmentBatch* batch = msg.mutable_assignments();
  ShardSlot& slot = job.shards[shard];
  if (slot.state != v1::SHARD_RUNNING) {
    slot.state = v1::SHARD_RUNNING;
    ++job.running;
  }
  ++slot.attempt;
  if (speculative) {
    ++job.speculative_attempts;
  } else if (slot.attempt > 1) {
    ++job.retries;
  }
  slot.running.push_back(
      RunningAttempt{slot.attempt, w.id, clock_->Now(), speculative});
  if (job.state == v1::JOB_QUEUED) {
    job.state = v1::JOB_RUNNING;
    job.start_time = clock_->Now();
  }
  Hold(w, job, shard, slot.attempt);
  if (w.jobs_sent.insert(job.id).second) {
    v1::JobDefinition* def = batch->add_jobs();
    def->set_job_id(job.id);
    def->set_kernel(job.spec.kernel());
    *def->mutable_args() = job.spec.args();
    if (job.is_command) *def->mutable_command() = job.spec.command();
    def->set_shards(job.total);
  }
  const ShardRange range = ShardRangeOf(job.domain, job.total, shard);
  v1::ShardTask* task = batch->add_tasks();
  task->mutable_ref()->set_job_id(job.id);
  task->mutable_ref()->set_shard(shard);
  task->mutable_ref()->set_attempt(slot.attempt);
  task->set_begin(range.begin);
  task->set_end(range.end);
}

void Scheduler::Speculate(Effects& fx) {
  const Options::Speculation& spec = options_.speculation;
  const absl::Time now = clock_->Now();
  std::map<uint64_t, v1::CoordinatorMessage> msgs;  // by worker
  for (uint64_t job_id : active_jobs_) {
    Job& job = jobs_[job_id];
    if (job.reducing || !job.queue.empty() || job.running == 0) continue;
    if (job.succeeded + job.skipped < spec.after * job.total) continue;
    const absl::Duration limit = std::max(
        spec.min_runtime, spec.slowdown * job.MedianRuntime());
    for (uint64_t i = 0; i < job.total; ++i) {
      ShardSlot& slot = job.shards[i];
      if (slot.state != v1::SHARD_RUNNING || slot.running.size() != 1 ||
          now - slot.running[0].started <= limit) {
        continue;
      }
      // A worker with a free slot that is not already running the shard.
      Worker* twin = nullptr;
      for (auto& [wid, w] : workers_) {
        if (wid == slot.running[0].worker_id || !Eligible(job, w)) continue;
        const uint64_t slots = job.is_command ? w.reg.processes() : w.reg.slots();
        if (HeldFor(job, w) >= slots || slot.FailedOn(wid)) continue;
        twin = &w;
        break;
      }
      if (twin == nullptr) break;  // no idle worker for this job
      LOG(INFO) << "job " << job.id << ": shard " << i << " has run "
                << (now - slot.running[0].started)
                << " (median shard " << job.MedianRuntime()
                << "); starting a backup on worker " << twin->id;
      StartAttempt(job, i, *twin, /*speculative=*/true, msgs[twin->id]);
      fx.changed.emplace_back(job.id, false);
    }
  }
  for (auto& [wid, msg] : msgs) {
    fx.outbox.emplace_back(workers_[wid].link, std::move(msg));
  }
}

void Scheduler::Adopt(Worker& w, const v1::ShardRef& ref, Effects& fx) {
  auto cancel = [&] {
    v1::CoordinatorMessage msg;
    *msg.mutable_cancel()->add_shards() = ref;
    fx.outbox.emplace_back(w.link, std::move(msg));
  };
  Job* job = FindJob(ref.job_id());
  if (job == nullptr || job->terminal() || job->reducing ||
      ref.shard() >= job->total) {
    if (job != nullptr) ++job->discarded_results;
    cancel();
    return;
  }
  ShardSlot& slot = job->shards[ref.shard()];
  if (slot.state != v1::SHARD_QUEUED && slot.state != v1::SHARD_RUNNING) {
    ++job->discarded_results;  // done (or skipped) while it was away
    cancel();
    return;
  }
  if (slot.state == v1::SHARD_QUEUED) {
    job->queue.erase(
        std::find(job->queue.begin(), job->queue.end(), ref.shard()));
    slot.state = v1::SHARD_RUNNING;
    ++job->running;
    if (job->state == v1::JOB_QUEUED) {
      job->state = v1::JOB_RUNNING;
      job->start_time = clock_->Now();
    }
  }
  // Attempt numbers go on from the highest seen, across restarts too.
  slot.attempt = std::max(slot.attempt, ref.attempt());
  slot.running.push_back(RunningAttempt{ref.attempt(), w.id, clock_->Now()});
  Hold(w, *job, ref.shard(), ref.attempt());
  w.jobs_sent.insert(job->id);  // it has the definition
  fx.changed.emplace_back(job->id, false);
}

void Scheduler::AcceptResult(Worker& w, const v1::ShardResult& r,
                             Effects& fx) {
  const uint64_t job_id = r.ref().job_id();
  const uint64_t shard = r.ref().shard();
  auto held = w.running.find({job_id, shard});
  if (held != w.running.end() && held->second.attempt == r.ref().attempt()) {
    Release(w, job_id, shard);
  }

  Job* job = FindJob(job_id);
  if (job == nullptr) return;
  if (job->terminal() || shard >= job->total) {
    ++job->discarded_results;
    return;
  }
  ShardSlot& slot = job->shards[shard];
  // This attempt no longer runs.
  bool was_running = false;
  for (auto it = slot.running.begin(); it != slot.running.end(); ++it) {
    if (it->worker_id == w.id && it->attempt == r.ref().attempt()) {
      slot.running.erase(it);
      was_running = true;
      break;
    }
  }
  if (slot.state == v1::SHARD_SUCCEEDED) {
    ++job->discarded_results;  // a late twin, or a worker come back
    if (r.ok() && absl::Hash<std::string>{}(r.payload()) != slot.payload_hash) {
      if (job->result_mismatches++ == 0) {
        job->mismatch = absl::StrCat(
            "shard ", shard, ": attempt ", r.ref().attempt(), " on worker ",
            w.id, " (", w.reg.host(),
            ") returned a different result than the accepted attempt "
            "(non-deterministic kernel or command, or a bad host?)");
      }
      LOG(WARNING) << "job " << job_id << ": " << job->mismatch;
      fx.changed.emplace_back(job_id, false);
    }
    return;
  }
  if (slot.state != v1::SHARD_QUEUED && slot.state != v1::SHARD_RUNNING) {
    ++job->discarded_results;  // skipped or cancelled meanwhile
    return;
  }
  if (r.handed_back()) {
    // The worker is draining: not the shard's fault.
    if (was_running && slot.running.empty()) Requeue(*job, shard);
    fx.changed.emplace_back(job_id, false);
    return;
  }
  if (r.ok()) {
    // Whatever attempt sent it: the first success is the answer.
    AcceptSuccess(*job, shard, w, r, fx);
  } else if (was_running) {
    AcceptFailure(*job, shard, w, r, fx);
  } else {
    ++job->discarded_results;  // a failure of an attempt already let go
  }
}

void Scheduler::AcceptSuccess(Job& job, uint64_t shard, Worker& w,
                              const v1::ShardResult& r, Effects& fx) {
  ShardSlot& slot = job.shards[shard];
  CancelAttempts(job, shard, fx);  // a twin still running loses
  if (slot.state == v1::SHARD_RUNNING) {
    --job.running;
  } else {  // queued again (its worker was lost) when this result came
    job.queue.erase(std::find(job.queue.begin(), job.queue.end(), shard));
  }
  const double us = static_cast<double>(r.runtime_us());
  job.avg_runtime_us =
      job.avg_runtime_us < 0 ? us : 0.9 * job.avg_runtime_us + 0.1 * us;
  job.RecordRuntime(r.runtime_us());
  slot.state = v1::SHARD_SUCCEEDED;
  slot.payload_hash = absl::Hash<std::string>{}(r.payload());
  job.payloads[shard] = r.payload();
  ++job.succeeded;
  ++w.completed;
  if (journal_ != nullptr) {
    JournalRecord& rec = fx.journal.emplace_back();
    rec.kind = JournalRecord::Kind::kShardAccepted;
    rec.job_id = job.id;
    rec.shard = shard;
    rec.data = r.payload();
  }
  if (!job.spec.output_dir().empty()) {
    fx.parts.push_back({job.spec.output_dir(), shard, r.payload()});
  }
  if (std::optional<uint64_t> cutoff = job.kernel->Cutoff(r.payload());
      cutoff.has_value() && *cutoff < job.cutoff) {
    ApplyCutoff(job, *cutoff, fx);
  }
  if (AllShardsDone(job)) {
    job.reducing = true;
    fx.to_reduce.push_back(job.id);
  } else {
    fx.changed.emplace_back(job.id, false);
  }
}

void Scheduler::AcceptFailure(Job& job, uint64_t shard, Worker& w,
                              const v1::ShardResult& r, Effects& fx) {
  ShardSlot& slot = job.shards[shard];
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
                 << w.reg.host() << ") failed "
                 << job.failures_by_worker[w.id]
                 << " different shards; quarantined for this job";
  }

  const auto& no_retry = job.spec.command().no_retry_exit_codes();
  if (r.has_exit_code() &&
      std::find(no_retry.begin(), no_retry.end(), r.exit_code()) !=
          no_retry.end()) {
    slot.state = v1::SHARD_FAILED;
    ++job.failed;
    EndJob(job, v1::JOB_FAILED,
           absl::StrCat("shard ", shard, " exited with code ", r.exit_code(),
                        ", declared non-retriable (--no-retry-exit), on "
                        "attempt ", r.ref().attempt(), " on worker ",
                        slot.history->failed_hosts.back(), ": ", r.error()),
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
                        "); last error: ", r.error()),
           fx);
    return;
  }
  if (slot.running.empty()) Requeue(job, shard);
}

void Scheduler::CancelAttempts(Job& job, uint64_t shard, Effects& fx) {
  ShardSlot& slot = job.shards[shard];
  for (const RunningAttempt& a : slot.running) {
    auto w = workers_.find(a.worker_id);
    if (w == workers_.end()) continue;
    Release(w->second, job.id, shard);
    v1::CoordinatorMessage msg;
    v1::ShardRef* ref = msg.mutable_cancel()->add_shards();
    ref->set_job_id(job.id);
    ref->set_shard(shard);
    ref->set_attempt(a.attempt);
    fx.outbox.emplace_back(w->second.link, std::move(msg));
  }
  slot.running.clear();
}

void Scheduler::Requeue(Job& job, uint64_t shard) {
  ShardSlot& slot = job.shards[shard];
  if (slot.state == v1::SHARD_RUNNING) --job.running;
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
      ++job.cancelled;
    }
  }
  job.queue.clear();
  job.running = 0;
  active_jobs_.erase(
      std::remove(active_jobs_.begin(), active_jobs_.end(), job.id),
      active_jobs_.end());
  // Stop the job's attempts wherever they run, and free their slots now.
  for (auto& [wid, w] : workers_) {
    std::vector<uint64_t> shards;
    for (const auto& [key, h] : w.running) {
      if (key.first == job.id) shards.push_back(key.second);
    }
    for (uint64_t shard : shards) Release(w, job.id, shard);
    if (!shards.empty()) {
      v1::CoordinatorMessage msg;
      msg.mutable_cancel()->add_job_ids(job.id);
      fx.outbox.emplace_back(w.link, std::move(msg));
    }
  }
  if (journal_ != nullptr) {
    JournalRecord& rec = fx.journal.emplace_back();
    rec.kind = JournalRecord::Kind::kJobEnded;
    rec.job_id = job.id;
    rec.data = job.Status().SerializeAsString();
  }
  Archive(job);
  fx.changed.emplace_back(job.id, true);
}

void Scheduler::Archive(Job& job) {
  job.shards.clear();
  job.shards.shrink_to_fit();
  job.payloads.clear();
  job.payloads.shrink_to_fit();
  job.queue.clear();
  job.queue.shrink_to_fit();
  job.kernel.reset();
}

void Scheduler::DropWorker(uint64_t worker_id, Effects& fx) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  for (const auto& [key, h] : w.running) {
    Job* job = FindJob(key.first);
    if (job == nullptr || job->terminal()) continue;
    ShardSlot& slot = job->shards[key.second];
    auto a = std::find_if(slot.running.begin(), slot.running.end(),
                          [&](const RunningAttempt& ra) {
                            return ra.worker_id == worker_id;
                          });
    if (a == slot.running.end()) continue;
    slot.running.erase(a);
    // A lost worker is not the shard's fault: no failure is counted.
    if (slot.running.empty() && slot.state == v1::SHARD_RUNNING) {
      Requeue(*job, key.second);
    }
    fx.changed.emplace_back(job->id, false);
  }
  if (!w.running.empty()) {
    LOG(INFO) << "worker " << worker_id << " gone; " << w.running.size()
              << " attempts re-queued";
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
  return job.succeeded + job.skipped == job.total;
}

void Scheduler::ApplyCutoff(Job& job, uint64_t cutoff, Effects& fx) {
  job.cutoff = cutoff;
  std::vector<bool> skip(job.total, false);
  for (uint64_t i = 0; i < job.total; ++i) {
    ShardSlot& slot = job.shards[i];
    if (slot.state != v1::SHARD_QUEUED && slot.state != v1::SHARD_RUNNING) {
      continue;
    }
    if (ShardRangeOf(job.domain, job.total, i).begin < cutoff) continue;
    CancelAttempts(job, i, fx);
    if (slot.state == v1::SHARD_RUNNING) --job.running;
    slot.state = v1::SHARD_CANCELLED;
    skip[i] = true;
    ++job.skipped;
  }
  job.queue.erase(std::remove_if(job.queue.begin(), job.queue.end(),
                                 [&](uint64_t i) { return skip[i]; }),
                  job.queue.end());
}

void Scheduler::Apply(Effects fx) {
  if (journal_ != nullptr && !fx.journal.empty()) {
    journal_->Append(std::move(fx.journal));
  }
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
  JournalRecord ended;
  {
    absl::MutexLock lock(&mu_);
    Job& job = *FindJob(job_id);
    if (job.terminal()) return;  // cancelled while reducing
    job.reducing = false;
    job.end_time = clock_->Now();
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
    ended.kind = JournalRecord::Kind::kJobEnded;
    ended.job_id = job_id;
    ended.data = job.Status().SerializeAsString();
    Archive(job);
  }
  // Clients hear of the end once it is durable (this is the reducer
  // thread, which may wait).
  if (journal_ != nullptr) {
    journal_->Append({std::move(ended)});
    if (absl::Status st = journal_->Sync(); !st.ok()) {
      LOG(ERROR) << "job " << job_id << ": journaling its end: " << st;
    }
  }
  Notify({{job_id, true}});
}

}  // namespace shardex
