#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/tls_diagnosis.h"
#include "glog/logging.h"
#include "worker/grpc_blob_fetcher.h"

namespace shardex {

namespace {

using WriteStep = WorkerState::WriteStep;

// Waiting results that go at once, linger or not: trivial shards fill a
// batch in well under a millisecond.
constexpr size_t kMaxLingerBatch = 256;

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

int OrCores(int n) {
  if (n > 0) return n;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Session::Options SessionOptionsFor(const WorkerOptions& options) {
  Session::Options s;
  s.channel.target = options.coordinator;
  s.channel.tls = options.tls;
  s.channel.max_message_bytes = options.max_message_bytes;
  s.token = options.token;
  s.register_timeout = options.register_timeout;
  s.host = options.host.empty() ? HostName() : options.host;
  s.slots = OrCores(options.threads);
  s.processes = OrCores(options.processes);
  return s;
}

// Where the cache and the jobs' files live. A second worker on the same
// scratch dir (the cache is locked) gets a private root below it.
std::string StagingRoot(const WorkerOptions& options) {
  return options.scratch_dir.empty()
             ? absl::StrCat(TempDir(), "/shardex-worker-", getuid())
             : options.scratch_dir;
}

absl::StatusOr<std::unique_ptr<BlobCache>> OpenCache(
    const WorkerOptions& options, BlobFetcher* fetcher, std::string* root,
    bool* private_root) {
  *root = StagingRoot(options);
  absl::StatusOr<std::unique_ptr<BlobCache>> cache = BlobCache::Open(
      {absl::StrCat(*root, "/cache"), options.cache_bytes}, fetcher);
  if (!absl::IsFailedPrecondition(cache.status())) return cache;
  static std::atomic<int> workers{0};
  *root = absl::StrCat(*root, "/worker-", getpid(), "-", workers++);
  *private_root = true;
  LOG(WARNING) << cache.status().message() << "; using a private cache in "
               << *root << " for this run";
  return BlobCache::Open({absl::StrCat(*root, "/cache"), options.cache_bytes},
                         fetcher);
}

}  // namespace

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)),
      session_options_(SessionOptionsFor(options_)),
      // Batches well under the message limit.
      outbox_(static_cast<size_t>(options_.max_message_bytes) / 2),
      linger_(options_.result_linger, kMaxLingerBatch) {
  ShardExecutor::Options exec;
  exec.threads = session_options_.slots;
  exec.processes = session_options_.processes;
  exec.scratch_root =
      options_.scratch_dir.empty() ? TempDir() : options_.scratch_dir;
  fetcher_ = std::make_unique<GrpcBlobFetcher>(session_options_.channel,
                                               session_options_.token);
  std::string root;
  absl::StatusOr<std::unique_ptr<BlobCache>> cache =
      OpenCache(options_, fetcher_.get(), &root, &private_root_);
  absl::Status cache_status = cache.status();
  if (cache.ok()) {
    cache_ = *std::move(cache);
  } else {
    LOG(ERROR) << "no blob cache, so jobs with staged files will fail here: "
               << cache.status();
  }
  stager_ = std::make_unique<JobStager>(
      JobStager::Options{absl::StrCat(root, "/jobs"), session_options_.host},
      cache_.get(), cache_status);
  if (private_root_) staging_root_ = root;
  exec.stager = stager_.get();
  executor_ = std::make_unique<ShardExecutor>(
      exec, [this](v1::ShardResult r, std::optional<ShardRange> covered) {
        OnResult(std::move(r), covered);
      });
}

Worker::~Worker() {
  std::thread drain;
  {
    absl::MutexLock lock(&mu_);
    state_.Finish();
    drain = std::move(drain_thread_);
  }
  executor_->CancelAll();  // ends the drain thread's waits
  if (drain.joinable()) drain.join();
  executor_.reset();  // waits for the running attempts
  if (private_root_) RemoveTree(staging_root_).IgnoreError();
}

void Worker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    state_.Stop();
    if (session_ != nullptr) session_->Cancel();
  }
  executor_->CancelAll();
}

void Worker::Drain(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (!state_.StartDrain()) return;
  drain_deadline_ = absl::Now() + grace;
  drain_thread_ = std::thread([this] { DrainAttempts(); });
}

void Worker::DrainAttempts() {
  absl::Time deadline;
  {
    absl::MutexLock lock(&mu_);
    deadline = drain_deadline_;
  }
  const ShardExecutor::Counts held = executor_->counts();
  LOG(INFO) << "draining: handing back " << held.queued << " queued shards; "
            << held.running << " running shards may finish within "
            << absl::Trunc(deadline - absl::Now(), absl::Milliseconds(1));
  executor_->StartDrain();
  if (!executor_->WaitIdle(deadline - absl::Now())) {
    LOG(WARNING) << "drain timeout: handing back "
                 << executor_->counts().running << " running shards";
    executor_->HandBackRunning();
    executor_->WaitIdle(absl::InfiniteDuration());
  }
  absl::MutexLock lock(&mu_);
  state_.Settle();
  if (outbox_.empty() && state_.link() == WorkerState::Link::kDialing &&
      session_ != nullptr) {
    session_->Cancel();  // nothing to say: don't wait for a dial
  }
  // The writer now flushes the outbox and closes; Run returns after that.
  // A coordinator that cannot be reached (or does not close) gets until
  // the close timeout.
  AwaitClose(std::max(deadline, absl::Now()) + options_.drain_close_timeout);
}

void Worker::AwaitClose(absl::Time give_up_at) {
  auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const WorkerState::Phase phase = state_.phase();
    return phase == WorkerState::Phase::kFinished ||
           phase == WorkerState::Phase::kStopped;
  };
  if (mu_.AwaitWithDeadline(absl::Condition(&finished), give_up_at)) return;
  if (outbox_.empty()) {
    LOG(WARNING) << "drain: the coordinator did not close the stream in "
                    "time; leaving";
  } else {
    LOG(WARNING) << "drain: could not hand over " << outbox_.size()
                 << " results to the coordinator in time; leaving";
  }
  state_.GiveUp();
  if (session_ != nullptr) session_->Cancel();
}

bool Worker::Done() const { return state_.Done(outbox_.empty()); }

void Worker::OnResult(v1::ShardResult result,
                      std::optional<ShardRange> covered) {
  // Nothing queued: a slot is about to go idle, or the job is ending; the
  // coordinator must hear now (worker/result_linger.h).
  const bool urgent = executor_->Queued() == 0;
  // The range (as split) goes with the result for Register.held.
  absl::MutexLock lock(&mu_);
  outbox_.Add(std::move(result), covered);
  linger_.Added(outbox_.size(), absl::Now(), urgent);
}

void Worker::OnAssignments(const v1::AssignmentBatch& batch) {
  executor_->Assign(batch);
}

void Worker::OnSplit(const v1::SplitShard& split) {
  // Under mu_: the attempt's result, which the executor may report as soon
  // as Split returns, can only join the outbox after the answer.
  absl::MutexLock lock(&mu_);
  outbox_.AddSplit(executor_->Split(split));
  linger_.Added(outbox_.size(), absl::Now(), /*urgent=*/true);  // awaited
}

void Worker::OnCancel(const v1::CancelShards& cancel) {
  executor_->Cancel(cancel);
  absl::MutexLock lock(&mu_);
  outbox_.Forget(cancel);
  linger_.Removed(outbox_.size());
}

void Worker::FillHeld(v1::Register* reg) {
  // The executor first: an attempt that finishes in between is then in
  // both lists (deduplicated), never in neither.
  std::vector<v1::ShardTask> held = executor_->HeldTasks();
  std::vector<v1::ShardRef> refs;
  refs.reserve(held.size());
  for (const v1::ShardTask& t : held) refs.push_back(t.ref());
  {
    absl::MutexLock lock(&mu_);
    outbox_.AppendWaiting(&refs, &held);
  }
  for (v1::ShardRef& ref : refs) *reg->add_running() = std::move(ref);
  for (v1::ShardTask& t : held) *reg->add_held() = std::move(t);
}

void Worker::OnRegistered() {
  absl::MutexLock lock(&mu_);
  state_.Registered();
  linger_.MarkUrgent();  // what waited between sessions goes at once
}

void Worker::OnReaderEnded() {
  absl::MutexLock lock(&mu_);
  state_.ReaderEnded();
}

WriteStep Worker::NextWrite(absl::Duration idle, bool drain_sent,
                            v1::WorkerMessage* msg) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_.NextWrite(drain_sent, outbox_.empty()) != WriteStep::kWait;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), idle);
  WriteStep step = state_.NextWrite(drain_sent, outbox_.empty());
  if (step == WriteStep::kSendResults && !linger_.Urgent(outbox_.size())) {
    // Results may wait a little for company (worker/result_linger.h),
    // unless something else must be said first.
    auto due = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return state_.NextWrite(drain_sent, outbox_.empty()) !=
                 WriteStep::kSendResults ||
             linger_.Urgent(outbox_.size());
    };
    mu_.AwaitWithDeadline(absl::Condition(&due),
                          linger_.DueAt(outbox_.size()));
    step = state_.NextWrite(drain_sent, outbox_.empty());
  }
  switch (step) {
    case WriteStep::kSendDrain:
      msg->mutable_drain();
      break;
    case WriteStep::kSendResults:
      outbox_.TakeMessage(msg);
      linger_.Removed(outbox_.size());
      break;
    case WriteStep::kClose:
      state_.Close();
      break;
    case WriteStep::kWait:
    case WriteStep::kLeave:
      break;
  }
  return step;
}

void Worker::Unsent(v1::ResultBatch* batch) {
  absl::MutexLock lock(&mu_);
  outbox_.PutBack(batch);
  linger_.MarkUrgent();  // they were due already
}

void Worker::FillHeartbeat(v1::Heartbeat* heartbeat) {
  const ShardExecutor::Counts c = executor_->counts();
  heartbeat->set_running(c.running);
  heartbeat->set_queued(c.queued);
  heartbeat->set_jobs_known(executor_->KnownJobs());
  host_stats_.Sample().FillHeartbeat(heartbeat);
}

absl::Status Worker::Run() {
  Backoff backoff(options_.backoff);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Done(); };
  absl::Status fatal;
  while (true) {
    bool registered = false;
    absl::Status st = RunSession(&registered);
    {
      absl::MutexLock lock(&mu_);
      if (Done()) break;
    }
    // A refused token, a bad TLS file or a TLS mistake (wrong CA, no client
    // certificate, plaintext against TLS, ...) does not get better by
    // retrying; an unreachable coordinator or a timeout may.
    if (st.code() == absl::StatusCode::kUnauthenticated ||
        st.code() == absl::StatusCode::kInvalidArgument ||
        IsTlsMistake(st)) {
      LOG(ERROR) << "giving up: " << st.message();
      fatal = st;
      break;
    }
    if (registered) backoff.Reset();
    // Full jitter keeps many workers from dialling in lockstep.
    const absl::Duration wait = backoff.Next();
    LOG(WARNING) << "session with " << options_.coordinator << " ended: " << st
                 << "; reconnecting in " << wait;
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&done), wait)) break;
  }
  Finish();
  return fatal;
}

absl::Status Worker::RunSession(bool* registered) {
  Session session(session_options_, this);
  {
    absl::MutexLock lock(&mu_);
    if (!state_.BeginSession(outbox_.empty())) return absl::OkStatus();
    session_ = &session;
  }
  absl::Status st = session.Run(registered);
  absl::MutexLock lock(&mu_);
  session_ = nullptr;
  state_.EndSession();
  return st;
}

void Worker::Finish() {
  std::thread drain;
  bool drained;
  {
    absl::MutexLock lock(&mu_);
    drained = state_.drain_settled();
    state_.Finish();
    drain = std::move(drain_thread_);
  }
  // Whatever is still held (after Stop, or a drain that gave up) ends now;
  // once WaitIdle returns, no shard runs and no child process is left.
  executor_->CancelAll();
  if (drain.joinable()) drain.join();
  executor_->WaitIdle(absl::InfiniteDuration());
  absl::MutexLock lock(&mu_);
  if (!drained) return;
  if (outbox_.empty()) {
    LOG(INFO) << "drained: every shard finished or was handed back";
  } else {
    LOG(WARNING) << "drained, but " << outbox_.size()
                 << " results were not delivered";
  }
}

}  // namespace shardex
