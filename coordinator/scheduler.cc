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

namespace {

constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX
constexpr size_t kMaxKernelNameBytes = 64;
constexpr size_t kMaxRequestIdBytes = 128;
constexpr size_t kMaxRegisterTextBytes = 256;  // Register.host, .version
// A shard's error text as kept in the job (it may carry a stderr tail).
constexpr size_t kMaxErrorBytes = 4096;
// ListJobs leaves out results larger than this (GetJob has them).
constexpr size_t kMaxListedResultBytes = 64 << 10;
// JobDefinitions per AssignmentBatch, far below the 64 MiB message limit.
constexpr uint64_t kMaxDefinitionBytes = 8 << 20;
// Results of one batch handled per hold of the lock, so a huge batch does
// not keep other calls waiting.
constexpr int kResultsPerLock = 4096;
// What the coordinator holds per shard of a job that has not ended: its
// slot, payload string and queue entry (counted against max_held_bytes).
constexpr uint64_t kShardStateBytes =
    sizeof(ShardSlot) + sizeof(std::string) + sizeof(uint64_t);

absl::Status CheckNoNul(absl::string_view field, absl::string_view value) {
  if (value.find('\0') == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": contains a NUL byte"));
}

// `text` cut to `max` bytes, saying how much was left out.
std::string Clip(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  return absl::StrCat(text.substr(0, max), "... (", text.size() - max,
                      " more bytes)");
}

// What can be checked before planning: the spec's size, its text fields
// (kernel arguments are checked by the kernel, command fields by
// CreateCommandJob) and that it names something to run. Sets *bytes to the
// spec's serialized size.
absl::Status ValidateJobSpec(const v1::JobSpec& spec,
                             const Scheduler::Options& options,
                             uint64_t* bytes) {
  *bytes = spec.ByteSizeLong();
  if (*bytes > options.max_spec_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "job spec: ", *bytes, " bytes exceeds the limit of ",
        options.max_spec_bytes,
        " bytes (raise it with the coordinator's --max-spec-bytes)"));
  }
  if (spec.kernel().size() > kMaxKernelNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kernel: a ", spec.kernel().size(), "-byte name is not a kernel name"));
  }
  if (absl::Status st = CheckNoNul("kernel", spec.kernel()); !st.ok()) {
    return st;
  }
  if (!spec.has_command() && spec.kernel().empty()) {
    return absl::InvalidArgumentError(
        "kernel: empty (a job names a kernel or gives a command)");
  }
  if (absl::Status st = CheckNoNul("output_dir (--output)", spec.output_dir());
      !st.ok()) {
    return st;
  }
  if (spec.output_dir().size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output_dir (--output): ", spec.output_dir().size(),
        " bytes, longer than a path may be (", kMaxPathBytes, ")"));
  }
  return absl::OkStatus();
}

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
  // A shard's output is its result: no larger than a result may be.
  CommandPolicy policy = options_.commands;
  policy.max_output_cap_bytes =
      std::min(policy.max_output_cap_bytes, options_.max_result_bytes);
  policy.default_max_output_bytes =
      std::min(policy.default_max_output_bytes, policy.max_output_cap_bytes);
  v1::CommandSpec resolved;
  absl::StatusOr<std::unique_ptr<KernelJob>> command =
      CreateCommandJob(spec.command(), policy, &resolved);
  if (!command.ok()) return command.status();
  *spec.mutable_command() = std::move(resolved);
  return std::shared_ptr<const KernelJob>(std::move(command).value());
}

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
  auto it = requests_.find(request_id);
  if (request_id.empty() || it == requests_.end()) return std::nullopt;
  if (it->second == 0) {
    return Admission(absl::UnavailableError(
        "a submit with this request id is in progress; retry"));
  }
  return Admission(jobs_.at(it->second).Status());
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
  uint64_t spec_bytes = 0;
  if (absl::Status st = ValidateJobSpec(spec, options_, &spec_bytes);
      !st.ok()) {
    return st;
  }
  absl::MutexLock lock(&mu_);
  if (std::optional<Admission> known = KnownRequest(request_id)) {
    return *std::move(known);
  }
  TrimEndedJobs();
  const uint64_t in_flight = active_jobs_.size() + submits_in_progress_;
  if (in_flight >= options_.max_jobs_in_flight) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many jobs in flight: ", in_flight,
        " queued or running, the coordinator's limit (raise it with "
        "--max-jobs); retry when some have ended"));
  }
  if (held_bytes_ + spec_bytes > options_.max_held_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the coordinator holds ", held_bytes_,
        " bytes of job specs and results in memory, near its limit of ",
        options_.max_held_bytes,
        " (raise it with --max-held-bytes); retry when running jobs have "
        "ended"));
  }
  ++submits_in_progress_;
  if (!request_id.empty()) requests_[request_id] = 0;
  return std::optional<v1::JobStatus>();
}

void Scheduler::Unreserve(const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  --submits_in_progress_;
  if (!request_id.empty()) requests_.erase(request_id);
}

absl::StatusOr<v1::JobStatus> Scheduler::SubmitAdmitted(
    v1::JobSpec spec, const std::string& request_id) {
  absl::StatusOr<std::shared_ptr<const KernelJob>> planned =
      Plan(spec, /*resuming=*/false);
  if (!planned.ok()) {
    Unreserve(request_id);
    return planned.status();
  }
  std::shared_ptr<const KernelJob> kernel_job = std::move(planned).value();
  const Domain domain = kernel_job->domain();

  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    uint64_t shards = spec.shards();
    const bool fixed = spec.shards() != 0 ||
                       (domain.kind == Domain::Kind::kTasks && domain.hi > 0);
    if (shards == 0) shards = DefaultShardCount(domain, TotalSlots());
    if (shards > options_.max_shards_per_job && !fixed) {
      shards = options_.max_shards_per_job;  // a default, not an ask
    }
    absl::Status valid;
    if (shards > options_.max_shards_per_job) {
      valid = absl::ResourceExhaustedError(absl::StrCat(
          "shards (--shards): ", shards, " exceeds the coordinator's limit of ",
          options_.max_shards_per_job,
          " shards per job (raise it with the coordinator's --max-shards)"));
    } else {
      valid = ValidateShardCount(domain, shards, options_.max_shards_per_job);
    }
    uint64_t needed = 0;
    if (__builtin_mul_overflow(shards, kShardStateBytes, &needed) ||
        __builtin_add_overflow(needed, spec.ByteSizeLong(), &needed)) {
      needed = UINT64_MAX;
    }
    if (valid.ok() && (needed > options_.max_held_bytes ||
                       held_bytes_ > options_.max_held_bytes - needed)) {
      valid = absl::ResourceExhaustedError(absl::StrCat(
          "this job's ", shards, " shards need about ", needed,
          " bytes of coordinator memory; it holds ", held_bytes_,
          " of its limit of ", options_.max_held_bytes,
          " (raise it with --max-held-bytes, or use fewer shards)"));
    }
    if (!valid.ok()) {
      --submits_in_progress_;
      if (!request_id.empty()) requests_.erase(request_id);
      return valid;
    }
    spec.set_shards(shards);
    id = next_job_id_++;
  }
  const absl::Time submitted = clock_->Now();
  const uint64_t spec_bytes = spec.ByteSizeLong();

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
      Unreserve(request_id);
      return absl::UnavailableError(absl::StrCat(
          "cannot record the job in the state directory: ", st.message()));
    }
  }

  Effects fx;
  v1::JobStatus status;
  {
    absl::MutexLock lock(&mu_);
    --submits_in_progress_;
    Job& job = jobs_[id];
    job.id = id;
    job.request_id = request_id;
    job.spec = std::move(spec);
    job.spec_bytes = spec_bytes;
    job.kernel = std::move(kernel_job);
    job.domain = domain;
    job.is_command = job.spec.has_command();
    job.total = job.spec.shards();
    SetHeld(job, spec_bytes + job.total * kShardStateBytes);
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
      job.archived->set_job_id(job.id);  // the row's id is the truth
      job.spec_bytes = job.spec.ByteSizeLong();
      SetHeld(job, job.archived->ByteSizeLong());  // the spec is in it
      MarkEnded(job);
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
    job.spec_bytes = job.spec.ByteSizeLong();
    SetHeld(job, job.spec_bytes + job.total * kShardStateBytes);
    job.submit_time = absl::FromUnixMillis(journaled.submit_unix_ms);
    job.is_command = job.spec.has_command();
    // A journal is input too: check the shard count before sizing anything.
    absl::Status resumable = planned.status();
    if (resumable.ok()) {
      resumable = ValidateShardCount((*planned)->domain(), job.total,
                                     options_.max_shards_per_job);
    }
    if (!resumable.ok()) {
      job.total = 0;
      SetHeld(job, job.spec_bytes);
      EndJob(job, v1::JOB_FAILED,
             absl::StrCat("cannot resume after a coordinator restart: ",
                          resumable.message()),
             fx);
      continue;
    }
    job.kernel = std::move(planned).value();
    job.domain = job.kernel->domain();
    Resume(std::move(journaled), fx);
  }
  {
    absl::MutexLock lock(&mu_);
    TrimEndedJobs();
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
    SetHeld(job, job.held_bytes + payload.size());
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
  // The newest jobs that fit in one answer; large results left out.
  std::vector<v1::JobStatus> out;
  uint64_t bytes = 0;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    v1::JobStatus s = it->second.Status();
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

absl::StatusOr<uint64_t> Scheduler::OpenSession(
    std::shared_ptr<WorkerLink> link) {
  absl::MutexLock lock(&mu_);
  if (sessions_ >= options_.max_worker_sessions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many worker sessions: ", sessions_,
                     " open, the coordinator's limit (raise it with "
                     "--max-worker-sessions)"));
  }
  ++sessions_;
  const uint64_t id = next_session_id_++;
  pending_sessions_[id] = PendingSession{clock_->Now(), std::move(link)};
  return id;
}

void Scheduler::CloseSession(uint64_t session) {
  absl::MutexLock lock(&mu_);
  if (sessions_ > 0) --sessions_;
  pending_sessions_.erase(session);
}

absl::Status Scheduler::CheckRegister(const v1::Register& reg) const {
  const uint32_t max_slots = options_.max_worker_slots;
  if (reg.slots() == 0) {
    return absl::InvalidArgumentError("register.slots: must be at least 1");
  }
  for (const auto& [field, n] :
       {std::pair{"register.slots", reg.slots()},
        std::pair{"register.processes", reg.processes()}}) {
    if (n > max_slots) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", n,
                       " is more than the coordinator's limit of ", max_slots));
    }
  }
  for (const auto& [field, text] :
       {std::pair{"register.host", &reg.host()},
        std::pair{"register.version", &reg.version()}}) {
    if (text->size() > kMaxRegisterTextBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", text->size(),
                                                     " bytes, more than ",
                                                     kMaxRegisterTextBytes));
    }
  }
  // Attempts a worker can hold: its slots of each kind, each fed ahead by
  // up to max_prefetch; twice that allows for a change of options.
  const uint64_t can_hold =
      2 * (uint64_t{reg.slots()} + reg.processes() + 2 * options_.max_prefetch);
  if (static_cast<uint64_t>(reg.running_size()) > can_hold) {
    return absl::InvalidArgumentError(
        absl::StrCat("register.running: ", reg.running_size(),
                     " attempts, more than a worker with ", reg.slots(),
                     " slots and ", reg.processes(), " processes can hold"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Scheduler::AddWorker(const v1::Register& reg,
                                              std::string peer,
                                              std::shared_ptr<WorkerLink> link,
                                              uint64_t session) {
  if (absl::Status st = CheckRegister(reg); !st.ok()) return st;
  Effects fx;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (session != 0 && pending_sessions_.erase(session) == 0) {
      return absl::DeadlineExceededError(
          "the session was closed before it registered");
    }
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
  const int n = batch.results_size();
  // A few thousand results per hold of the lock: a huge batch must not
  // stall every other call.
  for (int begin = 0; begin == 0 || begin < n; begin += kResultsPerLock) {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it == workers_.end()) {
      if (begin > 0) break;  // dropped meanwhile; its attempts re-queued
      return absl::NotFoundError(absl::StrCat("no worker ", worker_id));
    }
    Worker& w = it->second;
    w.last_seen = clock_->Now();
    for (int i = begin; i < n && i < begin + kResultsPerLock; ++i) {
      const v1::ShardResult& r = batch.results(i);
      if (r.ok() && r.payload().size() > options_.max_result_bytes) {
        AcceptResult(w, TooLargeResult(r, options_.max_result_bytes), fx);
      } else {
        AcceptResult(w, r, fx);
      }
    }
    if (begin + kResultsPerLock >= n) Dispatch(fx);
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
  std::vector<std::shared_ptr<WorkerLink>> unregistered;
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
    // Sessions that never registered hold a place under
    // max_worker_sessions: not for longer than a silent worker would.
    for (auto it = pending_sessions_.begin(); it != pending_sessions_.end();) {
      if (now - it->second.opened > options_.heartbeat_timeout) {
        unregistered.push_back(std::move(it->second.link));
        pending_sessions_.erase(it++);
      } else {
        ++it;
      }
    }
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
    uint64_t definition_bytes = 0;
    while (Job* job = PickJobFor(w, nothing_for_w)) {
      // Jobs whose definitions would overfill this batch wait for the next
      // one (its tasks' results bring it).
      const bool new_job = !w.jobs_sent.contains(job->id);
      if (new_job && definition_bytes > 0 &&
          definition_bytes + job->spec_bytes > kMaxDefinitionBytes) {
        nothing_for_w.insert(job->id);
        continue;
      }
      std::optional<uint64_t> shard = PopShardFor(*job, w);
      if (!shard.has_value()) {
        nothing_for_w.insert(job->id);
        continue;
      }
      StartAttempt(*job, *shard, w, /*speculative=*/false, msg);
      if (new_job) definition_bytes += job->spec_bytes;
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
      ref.shard() >= job->total || ref.attempt() == 0 ||
      w.running.contains({ref.job_id(), ref.shard()})) {  // listed twice
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
  SetHeld(job, job.held_bytes + r.payload().size());
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
  job.reducing = false;
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
  MarkEnded(job);
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
  for (auto& [wid, w] : workers_) w.jobs_sent.erase(job.id);
  SetHeld(job, job.spec_bytes + job.result.ByteSizeLong() + job.error.size() +
                   job.mismatch.size());
}

void Scheduler::SetHeld(Job& job, uint64_t bytes) {
  held_bytes_ = held_bytes_ - job.held_bytes + bytes;
  job.held_bytes = bytes;
}

void Scheduler::MarkEnded(const Job& job) {
  ended_.push_back(job.id);
  ended_held_bytes_ += job.held_bytes;
}

void Scheduler::TrimEndedJobs(uint64_t keep) {
  auto forget = [&](uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Job& job = it->second;
    ended_held_bytes_ -= job.held_bytes;
    SetHeld(job, 0);
    auto req = requests_.find(job.request_id);
    if (req != requests_.end() && req->second == id) requests_.erase(req);
    jobs_.erase(it);
    if (journal_ != nullptr) {  // a queue push; the writer thread does I/O
      JournalRecord rec;
      rec.kind = JournalRecord::Kind::kJobForgotten;
      rec.job_id = id;
      std::vector<JournalRecord> records;
      records.push_back(std::move(rec));
      journal_->Append(std::move(records));
    }
  };
  const uint64_t max_records = std::max<uint64_t>(options_.max_job_records, 1);
  while (ended_.size() > max_records) {
    forget(ended_.front());
    ended_.pop_front();
  }
  // Forgetting ended jobs helps only if what running jobs hold fits.
  const uint64_t max_bytes = options_.max_held_bytes;
  if (held_bytes_ <= max_bytes || held_bytes_ - ended_held_bytes_ > max_bytes) {
    return;
  }
  for (auto it = ended_.begin();
       it != ended_.end() && held_bytes_ > max_bytes;) {
    if (*it == keep) {
      ++it;
      continue;
    }
    forget(*it);
    it = ended_.erase(it);
  }
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
  Held& held = w.running[{job.id, shard}];
  if (held.command) --w.running_commands;  // replaced
  held = Held{attempt, job.is_command};
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
    // Cancelled (and its kernel freed) before the reducer got to it.
    if (job == nullptr || !job->reducing || job->terminal()) return;
    kernel = job->kernel;
    payloads = std::move(job->payloads);
    output_dir = job->spec.output_dir();
  }
  absl::StatusOr<KernelResult> result = kernel->Reduce(payloads);
  payloads.clear();
  if (result.ok() && result->value.size() > options_.max_result_bytes) {
    result = absl::ResourceExhaustedError(
        absl::StrCat("the result is ", result->value.size(),
                     " bytes, more than the coordinator's limit of ",
                     options_.max_result_bytes, " (--max-result-bytes)"));
  }
  if (result.ok() && !output_dir.empty()) {
    absl::Status st =
        WriteFileAtomically(absl::StrCat(output_dir, "/result"), result->value);
    if (st.ok()) st = WriteFileAtomically(absl::StrCat(output_dir, "/_SUCCESS"), "");
    if (!st.ok()) result = st;
  }
  JournalRecord ended;
  {
    absl::MutexLock lock(&mu_);
    Job* found = FindJob(job_id);
    // Cancelled while reducing (and maybe forgotten since).
    if (found == nullptr || found->terminal()) return;
    Job& job = *found;
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
    MarkEnded(job);
    TrimEndedJobs(/*keep=*/job_id);  // `job` may be gone below
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
