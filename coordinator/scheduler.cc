#include "coordinator/scheduler.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "glog/logging.h"

namespace shardex {

namespace {

constexpr size_t kMaxRequestIdBytes = 128;
// ListJobs leaves out results larger than this (GetJob has them).
constexpr size_t kMaxListedResultBytes = 64 << 10;
// Results of one batch handled per hold of the lock, so a huge batch does
// not keep other calls waiting.
constexpr int kResultsPerLock = 4096;
// ListAttempts: records per page unless the client asks for fewer, and the
// bytes of a page (an error may carry 4 KiB of stderr), far below gRPC's
// default 4 MiB message limit.
constexpr uint32_t kAttemptPageSize = 10000;
constexpr uint64_t kAttemptPageBytes = 2 << 20;

// A success whose payload is too large to hold, turned into a failure.
v1::ShardResult TooLargeResult(const v1::ShardResult& r, uint64_t limit) {
  v1::ShardResult failed;
  *failed.mutable_ref() = r.ref();
  failed.set_ok(false);
  failed.set_runtime_us(r.runtime_us());
  failed.set_error(
      absl::StrCat("its result is ", r.payload().size(),
                   " bytes, more than the coordinator's limit of ", limit,
                   " bytes per shard result (--max-result-bytes)"));
  return failed;
}

}  // namespace

Scheduler::Scheduler(Options options, Clock* clock, Journal* journal,
                     StagingEnv staging)
    : options_(std::move(options)),
      clock_(clock),
      journal_(journal),
      planner_(options_, staging),
      workers_(options_),
      retention_(options_) {}

void Scheduler::SetJobListener(JobListener listener) {
  listener_ = std::move(listener);
}

absl::Status Scheduler::SyncJournal() {
  return CommitJournal({}, /*sync=*/true);
}

// ------------------------------------------------------------ client calls

void Scheduler::SubmitAsync(v1::JobSpec spec, std::string request_id,
                            SubmitCallback done) {
  // Refused submits never queue: what waits for the submitter threads is
  // bounded by max_jobs_in_flight specs of at most max_spec_bytes.
  Admission admitted = Admit(spec, request_id);
  if (!admitted.ok()) {
    done(admitted.status());
    return;
  }
  if (admitted->has_value()) {
    done(**std::move(admitted));
    return;
  }
  submitter_.Schedule([this, spec = std::move(spec),
                       request_id = std::move(request_id),
                       done = std::move(done)]() mutable {
    done(SubmitAdmitted(std::move(spec), request_id));
  });
}

absl::StatusOr<v1::JobStatus> Scheduler::Submit(v1::JobSpec spec,
                                                const std::string& request_id) {
  Admission admitted = Admit(spec, request_id);
  if (!admitted.ok()) return admitted.status();
  if (admitted->has_value()) return **std::move(admitted);
  return SubmitAdmitted(std::move(spec), request_id);
}

std::optional<Scheduler::Admission> Scheduler::KnownRequest(
    const std::string& request_id) const {
  std::optional<uint64_t> job_id = retention_.FindRequest(request_id);
  if (!job_id.has_value()) return std::nullopt;
  if (*job_id == 0) {
    return Admission(absl::UnavailableError(
        "a submit with this request id is in progress; retry"));
  }
  return Admission(ClientStatus(jobs_.at(*job_id), JobView::kFull));
}

Scheduler::Admission Scheduler::Admit(const v1::JobSpec& spec,
                                      const std::string& request_id) {
  if (request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: ", request_id.size(), " bytes, more than ",
                     kMaxRequestIdBytes));
  }
  // A retried request: answer with the job the first one made.
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<Admission> known = KnownRequest(request_id)) {
      return *std::move(known);
    }
  }
  absl::StatusOr<uint64_t> spec_bytes = planner_.Validate(spec);
  if (!spec_bytes.ok()) return spec_bytes.status();
  Effects fx;
  Admission admission = std::optional<v1::JobStatus>();
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<Admission> known = KnownRequest(request_id)) {
      return *std::move(known);
    }
    TrimEndedJobs(fx);
    absl::Status st =
        retention_.CheckAdmission(active_jobs_.size(), *spec_bytes);
    if (st.ok()) {
      retention_.Reserve(request_id);
    } else {
      admission = st;
    }
  }
  Apply(std::move(fx));  // the forgotten jobs' records
  return admission;
}

void Scheduler::Unreserve(const std::string& request_id, uint64_t job_id) {
  planner_.Abandon(job_id);  // before the id can be given to another job
  absl::MutexLock lock(&mu_);
  retention_.Unreserve(request_id);
  // No gap in the ids when no other job took one meanwhile.
  if (next_job_id_ == job_id + 1) next_job_id_ = job_id;
}

absl::StatusOr<v1::JobStatus> Scheduler::SubmitAdmitted(
    v1::JobSpec spec, const std::string& request_id) {
  // The id first: the job's outputs and pins are named by it.
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = next_job_id_++;
  }
  absl::StatusOr<PlannedJob> planned =
      planner_.Plan(spec, /*resuming=*/false, id);
  if (!planned.ok()) {
    Unreserve(request_id, id);
    return planned.status();
  }
  const Domain domain = planned->kernel->domain();
  absl::Status valid;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<uint64_t> shards =
        planner_.ShardCount(spec, domain, workers_.TotalSlots());
    valid = shards.status();
    if (valid.ok()) {
      valid = retention_.CheckRoomFor(
          *shards, JobPlanner::HeldBytesEstimate(*shards, spec.ByteSizeLong()));
    }
    if (valid.ok()) spec.set_shards(*shards);
  }
  if (!valid.ok()) {
    Unreserve(request_id, id);
    return valid;
  }
  const absl::Time submitted = clock_->Now();
  std::string summary = JobPlanner::Summary(spec);

  // On disk before anyone hears of the job.
  if (journal_ != nullptr) {
    std::vector<JournalRecord> records(1);
    JournalRecord& rec = records[0];
    rec.kind = JournalRecord::Kind::kJobCreated;
    rec.job_id = id;
    rec.request_id = request_id;
    rec.data = spec.SerializeAsString();
    rec.submit_unix_ms = absl::ToUnixMillis(submitted);
    if (absl::Status st = CommitJournal(std::move(records), /*sync=*/true);
        !st.ok()) {
      Unreserve(request_id, id);
      return absl::UnavailableError(absl::StrCat(
          "cannot record the job in the state directory: ", st.message()));
    }
  }

  Effects fx;
  v1::JobStatus status;
  {
    absl::MutexLock lock(&mu_);
    retention_.Bind(request_id, id);
    Job& job = jobs_[id];
    job.id = id;
    job.request_id = request_id;
    job.attempts = NewAttemptLog();
    job.summary = std::move(summary);
    job.spec_bytes = spec.ByteSizeLong();
    job.spec = std::move(spec);
    job.kernel = std::move(planned->kernel);
    job.output_dir = std::move(planned->output_dir);
    job.shared_fs = planned->shared_fs;
    job.client_paths = std::move(planned->client_paths);
    job.domain = domain;
    job.is_command = job.spec.has_command();
    job.total = job.spec.shards();
    if (JobPlanner::IsAdaptive(job.spec, domain)) MakeAdaptive(job);
    retention_.SetHeld(
        job, job.spec_bytes + job.total * JobPlanner::kShardStateBytes);
    job.shards.resize(job.total);
    job.payloads.resize(job.total);
    for (uint64_t i = 0; i < job.total; ++i) job.queue.push_back(i);
    job.submit_time = submitted;
    active_jobs_.push_back(id);
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
    std::string summary = JobPlanner::Summary(journaled.spec);
    if (journaled.ended) {
      absl::MutexLock lock(&mu_);
      planner_.PinRecovered(journaled.spec, journaled.id);
      Job& job = AddRecoveredJob(journaled);
      job.summary = std::move(summary);
      job.state = journaled.final_status.state();
      job.archived = std::move(journaled.final_status);
      job.archived->set_job_id(job.id);  // the row's id is the truth
      if (!journaled.attempts.empty() &&
          !job.attempts.Parse(journaled.attempts)) {
        LOG(WARNING) << "job " << job.id
                     << ": the journaled shard log does not parse; dropped";
      }
      // The spec is in the archived status.
      retention_.SetHeld(
          job, job.archived->ByteSizeLong() + job.attempts.bytes());
      retention_.MarkEnded(job);
      continue;
    }
    ++resumed;
    // Planning may read files: outside the lock.
    absl::StatusOr<PlannedJob> planned =
        planner_.Plan(journaled.spec, /*resuming=*/true, journaled.id);
    absl::MutexLock lock(&mu_);
    Job& job = AddRecoveredJob(journaled);
    job.summary = std::move(summary);
    retention_.SetHeld(
        job, job.spec_bytes + job.total * JobPlanner::kShardStateBytes);
    // A journal is input too: check the shard count before sizing anything.
    absl::Status resumable = planned.status();
    if (resumable.ok() &&
        !JobPlanner::IsAdaptive(job.spec, planned->kernel->domain())) {
      resumable =
          planner_.CheckShardCount(planned->kernel->domain(), job.total);
    }
    if (!resumable.ok()) {
      job.total = 0;
      retention_.SetHeld(job, job.spec_bytes);
      EndJob(job, v1::JOB_FAILED,
             absl::StrCat("cannot resume after a coordinator restart: ",
                          resumable.message()),
             fx);
      continue;
    }
    job.kernel = std::move(planned->kernel);
    job.output_dir = std::move(planned->output_dir);
    job.shared_fs = planned->shared_fs;
    job.client_paths = std::move(planned->client_paths);
    job.domain = job.kernel->domain();
    Resume(std::move(journaled), fx);
  }
  std::set<uint64_t> remembered;
  {
    absl::MutexLock lock(&mu_);
    TrimEndedJobs(fx);
    Dispatch(fx);
    for (const auto& [id, job] : jobs_) remembered.insert(id);
  }
  planner_.RemoveOutputsExcept(remembered);
  LOG(INFO) << "state: " << loaded->size() << " jobs journaled, " << resumed
            << " resumed";
  Apply(std::move(fx));
  return absl::OkStatus();
}

Job& Scheduler::AddRecoveredJob(const JournaledJob& journaled) {
  next_job_id_ = std::max(next_job_id_, journaled.id + 1);
  retention_.Recovered(journaled.request_id, journaled.id);
  Job& job = jobs_[journaled.id];
  job.id = journaled.id;
  job.request_id = journaled.request_id;
  job.attempts = NewAttemptLog();
  job.spec = journaled.spec;
  job.spec_bytes = job.spec.ByteSizeLong();
  job.total = job.spec.shards();
  job.is_command = job.spec.has_command();
  job.submit_time = absl::FromUnixMillis(journaled.submit_unix_ms);
  return job;
}

void Scheduler::Resume(JournaledJob journaled, Effects& fx) {
  Job& job = jobs_[journaled.id];
  if (JobPlanner::IsAdaptive(job.spec, job.domain)) {
    std::string error;
    if (!ResumeAdaptive(job, journaled, fx, error)) {
      EndJob(job, v1::JOB_FAILED,
             absl::StrCat("cannot resume after a coordinator restart: ",
                          error),
             fx);
      return;
    }
  } else {
    job.shards.resize(job.total);
    job.payloads.resize(job.total);
    for (auto& [shard, payload] : journaled.accepted) {
      if (shard >= job.total ||
          job.shards[shard].state == v1::SHARD_SUCCEEDED) {
        continue;
      }
      RestoreShard(job, shard, std::move(payload), fx);
    }
  }
  for (uint64_t i = 0; i < job.total; ++i) {
    if (job.shards[i].state != v1::SHARD_SUCCEEDED) continue;
    std::optional<uint64_t> cutoff = job.kernel->Cutoff(job.payloads[i]);
    if (cutoff.has_value() && *cutoff < job.cutoff) {
      ApplyCutoff(job, *cutoff, fx);
    }
  }
  for (uint64_t i = 0; i < job.total; ++i) {
    if (job.shards[i].state == v1::SHARD_QUEUED) job.queue.push_back(i);
  }
  active_jobs_.push_back(job.id);
  if (job.succeeded > 0) {
    job.state = v1::JOB_RUNNING;
    job.start_time = job.submit_time;
  }
  if (job.AllShardsDone()) StartReduce(job, fx);
  fx.changed.emplace_back(job.id, false);
}

void Scheduler::RestoreShard(Job& job, uint64_t shard, std::string payload,
                             Effects& fx) {
  ShardSlot& slot = job.shards[shard];
  slot.state = v1::SHARD_SUCCEEDED;
  slot.payload_hash = absl::Hash<std::string>{}(payload);
  ++job.succeeded;
  retention_.SetHeld(job, job.held_bytes + payload.size());
  if (!job.output_dir.empty()) {
    fx.parts.push_back({job.output_dir, PartName(job, shard), payload});
  }
  job.payloads[shard] = std::move(payload);
}

absl::StatusOr<v1::JobStatus> Scheduler::GetJob(uint64_t job_id,
                                                JobView view) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return UnknownJob(job_id);
  return ClientStatus(it->second, view);
}

v1::JobStatus Scheduler::ClientStatus(const Job& job, JobView view) const {
  v1::JobStatus s = job.Status(view);
  if (job.end_syncing) {
    s.set_state(job.state_before_end);
    s.clear_result();
    s.clear_error();
    s.set_end_time_unix_ms(0);
  }
  return s;
}

absl::Status Scheduler::UnknownJob(uint64_t job_id) const {
  if (job_id == 0 || job_id >= next_job_id_) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  return absl::NotFoundError(absl::StrCat(
      "no job ", job_id,
      " (if it existed, it ended and was forgotten: the "
      "coordinator keeps the newest ",
      options_.max_job_records,
      " ended jobs, --max-job-records, within --max-held-bytes)"));
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
  // The newest jobs that fit in one answer; large results left out.
  std::vector<v1::JobStatus> out;
  uint64_t bytes = 0;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    v1::JobStatus s = ClientStatus(it->second, JobView::kProgress);
    if (s.result().value().size() > kMaxListedResultBytes) {
      (*s.mutable_result()->mutable_details())["result_bytes"] =
          absl::StrCat(s.result().value().size());
      s.mutable_result()->clear_value();
    }
    bytes += s.ByteSizeLong();
    if (bytes > options_.max_list_bytes && !out.empty()) break;
    out.push_back(std::move(s));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

absl::StatusOr<v1::ListAttemptsResponse> Scheduler::ListAttempts(
    const v1::ListAttemptsRequest& request) const {
  const uint32_t max_count =
      request.max_count() == 0
          ? kAttemptPageSize
          : std::min(request.max_count(), kAttemptPageSize);
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(request.job_id());
  if (it == jobs_.end()) return UnknownJob(request.job_id());
  return it->second.attempts.Page(request.start(), max_count,
                                  kAttemptPageBytes);
}

std::vector<v1::WorkerInfo> Scheduler::ListWorkers() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, w] : workers_.workers()) {
    v1::WorkerInfo& info = out.emplace_back(w.Info());
    for (uint64_t job_id : active_jobs_) {
      if (jobs_.at(job_id).quarantined.contains(id)) {
        info.add_quarantined_jobs(job_id);
      }
    }
  }
  return out;
}

SchedulerMetrics Scheduler::Metrics() const {
  SchedulerMetrics m;
  m.shard_seconds = shard_seconds_.Snapshot();
  m.journal_commit_seconds = journal_commit_seconds_.Snapshot();
  absl::MutexLock lock(&mu_);
  m.totals = forgotten_totals_;
  for (const auto& [id, job] : jobs_) {
    ++m.jobs_by_state[job.state];
    if (job.archived.has_value()) {
      m.totals.Add(*job.archived);
      continue;
    }
    m.totals.succeeded += job.succeeded;
    m.totals.failed += job.failed;
    m.totals.cancelled += job.cancelled;
    m.totals.skipped += job.skipped;
    m.totals.retries += job.retries;
    m.totals.speculative_attempts += job.speculative_attempts;
    m.totals.discarded_results += job.discarded_results;
    m.totals.result_mismatches += job.result_mismatches;
    m.shards_queued += job.queue.size();
    m.shards_running += job.running;
  }
  for (const auto& [id, w] : workers_.workers()) {
    ++m.workers_connected;
    if (w.draining) ++m.workers_draining;
    if (!w.running.empty()) {
      ++m.workers_busy;
    } else if (!w.draining) {
      ++m.workers_idle;
    }
    for (uint64_t job_id : active_jobs_) {
      if (jobs_.at(job_id).quarantined.contains(id)) {
        ++m.workers_quarantined;
        break;
      }
    }
    m.cpu_utilization_sum += w.host.cpu_utilization();
    m.memory_total_bytes += w.host.memory_total_bytes();
    m.memory_available_bytes += w.host.memory_available_bytes();
    m.load1_sum += w.host.load1();
    m.slots_total += w.reg.slots();
    m.slots_busy += std::min<uint64_t>(w.running.size(), w.reg.slots());
  }
  return m;
}

// ------------------------------------------------------------ worker calls

absl::StatusOr<uint64_t> Scheduler::OpenSession(
    std::shared_ptr<WorkerLink> link) {
  absl::MutexLock lock(&mu_);
  return workers_.OpenSession(std::move(link), clock_->Now());
}

void Scheduler::CloseSession(uint64_t session) {
  absl::MutexLock lock(&mu_);
  workers_.CloseSession(session);
}

absl::StatusOr<uint64_t> Scheduler::AddWorker(const v1::Register& reg,
                                              std::string peer,
                                              std::shared_ptr<WorkerLink> link,
                                              uint64_t session) {
  if (absl::Status st = CheckRegister(reg, options_); !st.ok()) return st;
  Effects fx;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (session != 0 && !workers_.ClaimSession(session)) {
      return absl::DeadlineExceededError(
          "the session was closed before it registered");
    }
    ConnectedWorker& w =
        workers_.Add(reg, std::move(peer), std::move(link), clock_->Now());
    id = w.id;
    v1::CoordinatorMessage hello;
    hello.mutable_registered()->set_worker_id(id);
    // At least three heartbeats fit in the timeout, however short.
    hello.mutable_registered()->set_heartbeat_interval_ms(
        absl::ToInt64Milliseconds(std::min(options_.heartbeat_interval,
                                           options_.heartbeat_timeout / 3)));
    fx.outbox.emplace_back(w.link, std::move(hello));
    for (const v1::ShardRef& ref : reg.running()) {
      const v1::ShardTask* held = nullptr;
      for (const v1::ShardTask& task : reg.held()) {
        if (task.ref().job_id() == ref.job_id() &&
            task.ref().shard() == ref.shard() &&
            task.ref().attempt() == ref.attempt()) {
          held = &task;
        }
      }
      Adopt(w, ref, held, fx);
    }
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
  const int n = batch.results_size();
  // A few thousand results per hold of the lock: a huge batch must not
  // stall every other call.
  for (int begin = 0; begin == 0 || begin < n; begin += kResultsPerLock) {
    absl::MutexLock lock(&mu_);
    ConnectedWorker* w = workers_.Find(worker_id);
    if (w == nullptr) {
      if (begin > 0) break;  // dropped meanwhile; its attempts re-queued
      return absl::NotFoundError(absl::StrCat("no worker ", worker_id));
    }
    w->last_seen = clock_->Now();
    for (int i = begin; i < n && i < begin + kResultsPerLock; ++i) {
      const v1::ShardResult& r = batch.results(i);
      if (r.ok() && r.payload().size() > options_.max_result_bytes) {
        AcceptResult(*w, TooLargeResult(r, options_.max_result_bytes), fx);
      } else {
        AcceptResult(*w, r, fx);
      }
    }
    if (begin + kResultsPerLock >= n) Dispatch(fx);
  }
  Apply(std::move(fx));
  return absl::OkStatus();
}

void Scheduler::OnHeartbeat(uint64_t worker_id,
                            const v1::Heartbeat& heartbeat) {
  absl::MutexLock lock(&mu_);
  if (ConnectedWorker* w = workers_.Find(worker_id)) {
    w->last_seen = clock_->Now();
    w->jobs_known = heartbeat.jobs_known();
    w->host.set_cpu_utilization(heartbeat.cpu_utilization());
    w->host.set_memory_total_bytes(heartbeat.memory_total_bytes());
    w->host.set_memory_available_bytes(heartbeat.memory_available_bytes());
    w->host.set_load1(heartbeat.load1());
  }
}

void Scheduler::OnDrain(uint64_t worker_id) {
  absl::MutexLock lock(&mu_);
  ConnectedWorker* w = workers_.Find(worker_id);
  if (w == nullptr) return;
  w->draining = true;
  w->last_seen = clock_->Now();
  LOG(INFO) << "worker " << worker_id << " (" << w->reg.host()
            << ") is draining";
}

void Scheduler::Tick() {
  Effects fx;
  std::vector<std::shared_ptr<WorkerLink>> to_close;
  std::vector<std::shared_ptr<WorkerLink>> unregistered;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    const std::vector<uint64_t> expired = workers_.Silent(now);
    for (uint64_t id : expired) {
      ConnectedWorker* w = workers_.Find(id);
      LOG(WARNING) << "worker " << id << " (" << w->reg.host()
                   << ") missed heartbeats for " << options_.heartbeat_timeout
                   << "; dropping it";
      to_close.push_back(w->link);
      DropWorker(id, fx);
    }
    unregistered = workers_.TakeSilentSessions(now);
    if (!expired.empty()) Dispatch(fx);
    if (options_.speculation.enabled) Speculate(fx);
  }
  for (auto& link : to_close) {
    link->Close(absl::UnavailableError("missed heartbeats"));
  }
  for (auto& link : unregistered) {
    link->Close(absl::DeadlineExceededError(absl::StrCat(
        "no Register within ", absl::FormatDuration(options_.heartbeat_timeout),
        " of opening the session")));
  }
  Apply(std::move(fx));
}
// ---------------------------------------------------------------- internals

Job* Scheduler::FindJob(uint64_t id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

// ------------------------------------------------------------------- ending

void Scheduler::EndJob(Job& job, v1::JobState state, std::string error,
                       Effects& fx) {
  const v1::JobState before = job.state;
  job.state = state;
  job.reducing = false;
  job.error = std::move(error);
  job.end_time = clock_->Now();
  for (ShardSlot& slot : job.shards) {  // workers hear below
    for (const RunningAttempt& a : slot.running) {
      LogEnd(job, a, v1::ATTEMPT_CANCELLED);
    }
    slot.running.clear();
  }
  job.CancelUnfinished();
  active_jobs_.erase(
      std::remove(active_jobs_.begin(), active_jobs_.end(), job.id),
      active_jobs_.end());
  // Every worker that has the job's definition stops what it runs of it and
  // forgets it; their slots are free now.
  for (auto& [wid, w] : workers_.workers()) {
    w.ReleaseJob(job.id);
    if (w.jobs_sent.erase(job.id) == 0) continue;
    v1::CoordinatorMessage msg;
    msg.mutable_cancel()->add_job_ids(job.id);
    fx.outbox.emplace_back(w.link, std::move(msg));
  }
  if (journal_ != nullptr) {
    JournalRecord& rec = fx.journal.emplace_back();
    rec.kind = JournalRecord::Kind::kJobEnded;
    rec.job_id = job.id;
    rec.data = job.Status().SerializeAsString();
    fx.attempt_logs.emplace_back(fx.journal.size() - 1, job.attempts);
    // Reported once durable: Apply syncs, then clears the flag.
    job.end_syncing = true;
    job.state_before_end = before;
    fx.ends.push_back(job.id);
    fx.sync_journal = true;
  }
  retention_.SetHeld(job, job.Archive());
  retention_.MarkEnded(job);
  fx.changed.emplace_back(job.id, true);
}

void Scheduler::TrimEndedJobs(Effects& fx, uint64_t keep) {
  for (uint64_t id : retention_.TakeJobsToForget(keep)) {
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      forgotten_totals_.Add(it->second.Status(JobView::kProgress));
    }
    jobs_.erase(id);
    fx.forgotten.push_back(id);
    if (journal_ != nullptr) {
      JournalRecord& rec = fx.journal.emplace_back();
      rec.kind = JournalRecord::Kind::kJobForgotten;
      rec.job_id = id;
    }
  }
}

// -------------------------------------------------------- outside the lock

absl::Status Scheduler::CommitJournal(std::vector<JournalRecord> records,
                                      bool sync) {
  if (journal_ == nullptr) return absl::OkStatus();
  if (records.empty() && !sync) return absl::OkStatus();
  const absl::Time start = absl::Now();  // real time, whatever clock_ is
  if (!records.empty()) journal_->Append(std::move(records));
  absl::Status st = sync ? journal_->Sync() : absl::OkStatus();
  journal_commit_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return st;
}

void Scheduler::Apply(Effects fx) {
  for (const auto& [index, log] : fx.attempt_logs) {
    fx.journal[index].attempts = log.Serialize();
  }
  if (absl::Status st = CommitJournal(std::move(fx.journal), fx.sync_journal);
      !st.ok()) {
    LOG(ERROR) << "journal: " << st;
  }
  if (!fx.ends.empty()) {  // durable now (or the journal failed, logged)
    absl::MutexLock lock(&mu_);
    for (uint64_t job_id : fx.ends) {
      if (auto it = jobs_.find(job_id); it != jobs_.end()) {
        it->second.end_syncing = false;
      }
    }
  }
  for (auto& [link, msg] : fx.outbox) link->Send(std::move(msg));
  // Disk writes (with fsync) go to the reducer thread, never a gRPC thread;
  // being FIFO, it writes a job's parts before its result.
  for (PartWrite& part : fx.parts) {
    reducer_.Schedule([part = std::move(part)] {
      absl::Status st = WriteFileAtomically(
          absl::StrCat(part.dir, "/", part.name), part.data);
      if (!st.ok()) LOG(WARNING) << "writing a shard output: " << st;
    });
  }
  for (uint64_t job_id : fx.to_reduce) {
    reducer_.Schedule([this, job_id] { Reduce(job_id); });
  }
  // After the parts queued before (FIFO): they would recreate the files.
  for (uint64_t job_id : fx.forgotten) {
    reducer_.Schedule([this, job_id] { planner_.Forget(job_id); });
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
  std::vector<ShardRange> ranges;
  std::string output_dir;
  std::map<std::string, std::string> client_paths;
  {
    absl::MutexLock lock(&mu_);
    Job* job = FindJob(job_id);
    // Cancelled (and its kernel freed) before the reducer got to it.
    if (job == nullptr || !job->reducing || job->terminal()) return;
    kernel = job->kernel;
    ranges.reserve(job->total);
    if (job->adaptive) {
      // In range order: an adaptive job's shards were cut in order but a
      // split's rest came later.
      std::vector<uint64_t> order(job->total);
      for (uint64_t i = 0; i < job->total; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [job](uint64_t a, uint64_t b) {
        return job->RangeOf(a).begin < job->RangeOf(b).begin;
      });
      payloads.reserve(job->total);
      for (uint64_t i : order) {
        payloads.push_back(std::move(job->payloads[i]));
        ranges.push_back(job->RangeOf(i));
      }
    } else {
      // Fixed shards are numbered in range order: no copy of a million
      // payloads under the lock.
      payloads = std::move(job->payloads);
      for (uint64_t i = 0; i < job->total; ++i) {
        ranges.push_back(job->RangeOf(i));
      }
    }
    job->payloads.clear();
    output_dir = job->output_dir;
    client_paths = job->client_paths;
  }
  absl::StatusOr<KernelResult> result = kernel->ReduceRanges(payloads, ranges);
  payloads.clear();
  // mandelbrot's result names the file it wrote: the client's path.
  if (result.ok()) {
    auto it = client_paths.find(result->value);
    if (it != client_paths.end()) result->value = it->second;
  }
  if (result.ok() && result->value.size() > options_.max_result_bytes) {
    result = absl::ResourceExhaustedError(
        absl::StrCat("the result is ", result->value.size(),
                     " bytes, more than the coordinator's limit of ",
                     options_.max_result_bytes, " (--max-result-bytes)"));
  }
  if (result.ok() && !output_dir.empty()) {
    absl::Status st =
        WriteFileAtomically(absl::StrCat(output_dir, "/result"), result->value);
    if (st.ok()) {
      st = WriteFileAtomically(absl::StrCat(output_dir, "/_SUCCESS"), "");
    }
    if (!st.ok()) result = st;
  }
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    Job* job = FindJob(job_id);
    // Cancelled while reducing (and maybe forgotten since).
    if (job == nullptr || job->terminal()) return;
    if (result.ok()) {
      job->result.set_value(result->value);
      for (const auto& [k, v] : result->details) {
        (*job->result.mutable_details())[k] = v;
      }
      EndJob(*job, v1::JOB_SUCCEEDED, "", fx);
    } else {
      EndJob(*job, v1::JOB_FAILED,
             absl::StrCat("reduce failed: ", result.status().message()), fx);
    }
    TrimEndedJobs(fx, /*keep=*/job_id);  // `job` may be gone below
  }
  // Clients hear of the end once it is durable (this is the reducer
  // thread, which may wait).
  fx.sync_journal = true;
  Apply(std::move(fx));
}

}  // namespace shardex
