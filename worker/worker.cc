#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/synchronization/notification.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/tls.h"
#include "common/token.h"
#include "common/version.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

namespace {

using RefKey = std::tuple<uint64_t, uint64_t, uint32_t>;

RefKey KeyOf(const v1::ShardRef& ref) {
  return {ref.job_id(), ref.shard(), ref.attempt()};
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string ScratchDir(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* tmp = getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

int OrCores(int n) {
  if (n > 0) return n;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)),
      threads_(OrCores(options_.threads)),
      processes_(OrCores(options_.processes)) {
  ShardExecutor::Options exec;
  exec.threads = threads_;
  exec.processes = processes_;
  exec.scratch_root = ScratchDir(options_.scratch_dir);
  executor_ = std::make_unique<ShardExecutor>(
      exec, [this](v1::ShardResult r) { OnResult(std::move(r)); });
}

Worker::~Worker() {
  std::thread drain;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = finished_ = true;
    drain = std::move(drain_thread_);
  }
  executor_->CancelAll();  // ends the drain thread's waits
  if (drain.joinable()) drain.join();
  executor_.reset();  // waits for the running attempts
}

void Worker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (session_ctx_ != nullptr) session_ctx_->TryCancel();
  }
  executor_->CancelAll();
}

void Worker::Drain(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (draining_ || stopping_ || finished_) return;
  draining_ = true;
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
  drain_settled_ = true;
  if (outbox_.empty() && !session_registered_ && session_ctx_ != nullptr) {
    session_ctx_->TryCancel();  // nothing to say: don't wait for a dial
  }
  // The writer now flushes the outbox and closes; Run returns after that.
  // A coordinator that cannot be reached (or does not close) gets until
  // the close timeout.
  const absl::Time give_up_at =
      std::max(deadline, absl::Now()) + options_.drain_close_timeout;
  auto left = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_ || stopping_;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&left), give_up_at)) {
    if (outbox_.empty()) {
      LOG(WARNING) << "drain: the coordinator did not close the stream in "
                      "time; leaving";
    } else {
      LOG(WARNING) << "drain: could not hand over " << outbox_.size()
                   << " results to the coordinator in time; leaving";
    }
    give_up_ = true;
    if (session_ctx_ != nullptr) session_ctx_->TryCancel();
  }
}

bool Worker::Done() const {
  return stopping_ || give_up_ ||
         (drain_settled_ && (outbox_.empty() || closed_));
}

void Worker::OnResult(v1::ShardResult result) {
  absl::MutexLock lock(&mu_);
  outbox_.push_back(std::move(result));
}

void Worker::Forget(const v1::CancelShards& cancel) {
  const absl::flat_hash_set<uint64_t> jobs(cancel.job_ids().begin(),
                                           cancel.job_ids().end());
  std::set<RefKey> refs;
  for (const v1::ShardRef& ref : cancel.shards()) refs.insert(KeyOf(ref));
  absl::MutexLock lock(&mu_);
  outbox_.erase(std::remove_if(outbox_.begin(), outbox_.end(),
                               [&](const v1::ShardResult& r) {
                                 return jobs.contains(r.ref().job_id()) ||
                                        refs.count(KeyOf(r.ref())) > 0;
                               }),
                outbox_.end());
}

std::vector<v1::ShardRef> Worker::HeldAttempts() {
  // The executor first: an attempt that finishes in between is then in
  // both lists (deduplicated), never in neither.
  std::vector<v1::ShardRef> refs = executor_->Held();
  std::set<RefKey> seen;
  for (const v1::ShardRef& ref : refs) seen.insert(KeyOf(ref));
  absl::MutexLock lock(&mu_);
  for (const v1::ShardResult& r : outbox_) {
    if (seen.insert(KeyOf(r.ref())).second) refs.push_back(r.ref());
  }
  return refs;
}

void Worker::TakeBatch(v1::ResultBatch* batch) {
  const size_t limit = static_cast<size_t>(options_.max_message_bytes) / 2;
  size_t bytes = 0;
  while (!outbox_.empty()) {
    v1::ShardResult& r = outbox_.front();
    const size_t size = r.ByteSizeLong();
    if (size > limit) {
      // It can never be sent; say so instead of breaking every session.
      v1::ShardResult failed;
      *failed.mutable_ref() = r.ref();
      failed.set_runtime_us(r.runtime_us());
      failed.set_error(
          absl::StrCat("result of ", size, " bytes exceeds the message limit"));
      r = std::move(failed);
      continue;
    }
    if (batch->results_size() > 0 && bytes + size > limit) break;
    bytes += size;
    *batch->add_results() = std::move(r);
    outbox_.pop_front();
  }
}

absl::Status Worker::Run() {
  absl::BitGen rng;
  absl::Duration backoff = options_.min_backoff;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Done(); };
  absl::Status fatal;
  while (true) {
    bool registered = false;
    absl::Status st = Session(&registered);
    {
      absl::MutexLock lock(&mu_);
      if (Done()) break;
    }
    // A refused token or a bad TLS file does not get better by retrying.
    if (st.code() == absl::StatusCode::kUnauthenticated ||
        st.code() == absl::StatusCode::kInvalidArgument) {
      LOG(ERROR) << "giving up: " << st.message();
      fatal = st;
      break;
    }
    if (registered) backoff = options_.min_backoff;
    LOG(WARNING) << "session with " << options_.coordinator << " ended: " << st
                 << "; reconnecting in about " << backoff;
    // Full jitter keeps many workers from dialling in lockstep.
    const absl::Duration wait = backoff * absl::Uniform(rng, 0.5, 1.0);
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&done), wait)) break;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }

  std::thread drain;
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    drain = std::move(drain_thread_);
  }
  // Whatever is still held (after Stop, or a drain that gave up) ends now;
  // once WaitIdle returns, no shard runs and no child process is left.
  executor_->CancelAll();
  if (drain.joinable()) drain.join();
  executor_->WaitIdle(absl::InfiniteDuration());
  absl::MutexLock lock(&mu_);
  if (drain_settled_ && !stopping_) {
    if (outbox_.empty()) {
      LOG(INFO) << "drained: every shard finished or was handed back";
    } else {
      LOG(WARNING) << "drained, but " << outbox_.size()
                   << " results were not delivered";
    }
  }
  return fatal;
}

absl::Status Worker::Session(bool* registered) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(options_.tls);
  if (!credentials.ok()) return credentials.status();
  auto channel =
      grpc::CreateCustomChannel(options_.coordinator, *credentials, args);
  auto stub = v1::WorkerGateway::NewStub(channel);

  grpc::ClientContext ctx;
  if (!options_.token.empty()) {
    ctx.AddMetadata(kTokenMetadataKey,
                    absl::StrCat(kTokenMetadataPrefix, options_.token));
  }
  {
    absl::MutexLock lock(&mu_);
    if (Done()) return absl::OkStatus();
    session_ctx_ = &ctx;
    session_registered_ = session_over_ = false;
  }
  auto end_session = [this] {
    absl::MutexLock lock(&mu_);
    session_ctx_ = nullptr;
    session_registered_ = false;
    return closed_;
  };

  std::unique_ptr<Stream> stream = stub->Session(&ctx);
  v1::WorkerMessage hello;
  v1::Register* reg = hello.mutable_register_();
  reg->set_host(options_.host.empty() ? HostName() : options_.host);
  reg->set_slots(threads_);
  reg->set_processes(processes_);
  reg->set_pid(getpid());
  reg->set_version(kVersion);
  for (v1::ShardRef& ref : HeldAttempts()) *reg->add_running() = std::move(ref);
  v1::CoordinatorMessage in;
  // The handshake has a deadline: a coordinator that accepts the connection
  // but never answers must not hold the worker forever.
  absl::Notification answered;
  std::thread handshake_timer([&] {
    if (!answered.WaitForNotificationWithTimeout(options_.register_timeout)) {
      ctx.TryCancel();
    }
  });
  const bool ok =
      stream->Write(hello) && stream->Read(&in) && in.has_registered();
  answered.Notify();
  handshake_timer.join();
  if (!ok) {
    grpc::Status st = stream->Finish();
    end_session();
    return st.ok() ? absl::UnavailableError("coordinator closed the session")
                   : FromGrpcStatus(st);
  }
  *registered = true;
  {
    absl::MutexLock lock(&mu_);
    session_registered_ = true;
  }
  const absl::Duration heartbeat = absl::Milliseconds(
      std::max<int64_t>(in.registered().heartbeat_interval_ms(), 50));
  LOG(INFO) << "registered with " << options_.coordinator << " as worker "
            << in.registered().worker_id() << " with " << threads_
            << " threads and " << processes_ << " process slots"
            << (reg->running_size() > 0
                    ? absl::StrCat(", holding ", reg->running_size(),
                                   " attempts from before")
                    : "");

  std::thread writer([&] { WriteLoop(stream.get(), &ctx, heartbeat); });
  while (stream->Read(&in)) {
    if (in.has_assignments()) {
      executor_->Assign(in.assignments());
    } else if (in.has_cancel()) {
      executor_->Cancel(in.cancel());
      Forget(in.cancel());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    session_over_ = true;
  }
  writer.join();
  grpc::Status st = stream->Finish();
  const bool closed = end_session();
  if (closed && st.ok()) return absl::OkStatus();  // a drain's clean end
  return st.ok() ? absl::UnavailableError("coordinator ended the session")
                 : FromGrpcStatus(st);
}

void Worker::WriteLoop(Stream* stream, grpc::ClientContext* ctx,
                       absl::Duration heartbeat) {
  bool drain_sent = false;
  while (true) {
    v1::WorkerMessage msg;
    bool close = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return session_over_ || stopping_ || give_up_ ||
               (draining_ && !drain_sent) || !outbox_.empty() || drain_settled_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), heartbeat);
      if (session_over_ || stopping_ || give_up_) break;
      if (draining_ && !drain_sent) {
        msg.mutable_drain();
      } else if (!outbox_.empty()) {
        TakeBatch(msg.mutable_results());
      } else if (drain_settled_) {
        closed_ = close = true;
      }
    }
    if (close) {
      // Everything is said: half-close and let the coordinator end the
      // stream (the reader sees it); no TryCancel.
      stream->WritesDone();
      return;
    }
    if (msg.body_case() == v1::WorkerMessage::BODY_NOT_SET) {
      const ShardExecutor::Counts c = executor_->counts();
      msg.mutable_heartbeat()->set_running(c.running);
      msg.mutable_heartbeat()->set_queued(c.queued);
    }
    if (!stream->Write(msg)) {
      if (msg.has_results()) {
        // Maybe never delivered: keep them for the next session.
        absl::MutexLock lock(&mu_);
        auto* results = msg.mutable_results()->mutable_results();
        for (int i = results->size() - 1; i >= 0; --i) {
          outbox_.push_front(std::move(*results->Mutable(i)));
        }
      }
      break;
    }
    if (msg.has_drain()) drain_sent = true;
  }
  ctx->TryCancel();  // the stream is broken or we are leaving: end reads
}

}  // namespace shardex
