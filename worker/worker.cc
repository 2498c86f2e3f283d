#include "worker/worker.h"

#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/version.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "proto/shardex.grpc.pb.h"
#include "worker/executor.h"

namespace shardex {

namespace v1 = ::shardex::v1;

namespace {

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

// Results waiting to go out; the writer thread sends them in batches.
class Outbox {
 public:
  void Push(v1::ShardResult r) {
    absl::MutexLock lock(&mu_);
    pending_.push_back(std::move(r));
  }
  // Waits up to `timeout` for results; returns them all (maybe none).
  // Returns false once closed.
  bool Take(absl::Duration timeout, std::vector<v1::ShardResult>* out) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || !pending_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (closed_) return false;
    out->swap(pending_);
    return true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::ShardResult> pending_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

Worker::Worker(WorkerOptions options) : options_(std::move(options)) {}

void Worker::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (session_ctx_ != nullptr) session_ctx_->TryCancel();
}

absl::Status Worker::Run() {
  absl::BitGen rng;
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    bool registered = false;
    absl::Status st = Session(&registered);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::OkStatus();
    }
    if (registered) backoff = options_.min_backoff;
    LOG(WARNING) << "session with " << options_.coordinator
                 << " ended: " << st << "; reconnecting in about "
                 << backoff;
    // Full jitter keeps many workers from dialling in lockstep.
    const absl::Duration wait =
        backoff * absl::Uniform(rng, 0.5, 1.0);
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), wait)) {
        return absl::OkStatus();
      }
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::Status Worker::Session(bool* registered) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  auto channel = grpc::CreateCustomChannel(
      options_.coordinator, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::WorkerGateway::NewStub(channel);

  grpc::ClientContext ctx;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::OkStatus();
    session_ctx_ = &ctx;
  }
  auto clear_ctx = [this] {
    absl::MutexLock lock(&mu_);
    session_ctx_ = nullptr;
  };

  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int threads = options_.threads > 0 ? options_.threads : cores;
  const int processes = options_.processes > 0 ? options_.processes : cores;
  auto stream = stub->Session(&ctx);
  v1::WorkerMessage hello;
  v1::Register* reg = hello.mutable_register_();
  reg->set_host(options_.host.empty() ? HostName() : options_.host);
  reg->set_slots(threads);
  reg->set_processes(processes);
  reg->set_pid(getpid());
  reg->set_version(kVersion);
  v1::CoordinatorMessage in;
  if (!stream->Write(hello) || !stream->Read(&in) || !in.has_registered()) {
    grpc::Status st = stream->Finish();
    clear_ctx();
    return st.ok() ? absl::UnavailableError("coordinator closed the session")
                   : FromGrpcStatus(st);
  }
  *registered = true;
  const absl::Duration heartbeat =
      absl::Milliseconds(std::max<int64_t>(in.registered().heartbeat_interval_ms(), 50));
  LOG(INFO) << "registered with " << options_.coordinator << " as worker "
            << in.registered().worker_id() << " with " << threads
            << " threads and " << processes << " process slots";

  Outbox outbox;
  {
    ShardExecutor::Options exec_options;
    exec_options.threads = threads;
    exec_options.processes = processes;
    exec_options.scratch_root = ScratchDir(options_.scratch_dir);
    ShardExecutor executor(exec_options, [&outbox](v1::ShardResult r) {
      outbox.Push(std::move(r));
    });
    std::thread writer([&] {
      std::vector<v1::ShardResult> results;
      while (outbox.Take(heartbeat, &results)) {
        v1::WorkerMessage msg;
        if (results.empty()) {
          msg.mutable_heartbeat()->set_running(executor.InFlight());
        } else {
          for (auto& r : results) *msg.mutable_results()->add_results() = std::move(r);
          results.clear();
        }
        if (!stream->Write(msg)) break;
      }
      ctx.TryCancel();  // the stream is broken or we are leaving: end reads
    });
    while (stream->Read(&in)) {
      if (in.has_assignments()) {
        executor.Assign(in.assignments());
      } else if (in.has_cancel()) {
        executor.Cancel(in.cancel());
      }
    }
    outbox.Close();
    writer.join();
  }  // the executor cancels and drops whatever is still running
  grpc::Status st = stream->Finish();
  clear_ctx();
  return st.ok() ? absl::UnavailableError("coordinator ended the session")
                 : FromGrpcStatus(st);
}

}  // namespace shardex
