#include "worker/session.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/arena_message.h"
#include "common/grpc_status.h"
#include "common/tls_diagnosis.h"
#include "common/version.h"
#include "glog/logging.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

namespace {

using WriteStep = WorkerState::WriteStep;

// Why a stream that finished with `st` ended, from the worker's side.
absl::Status Ended(const grpc::Status& st, const char* clean_end) {
  return st.ok() ? absl::UnavailableError(clean_end) : FromGrpcStatus(st);
}

}  // namespace

Session::Session(const Options& options, Host* host)
    : options_(options), host_(host) {
  AddTokenMetadata(options_.token, &ctx_);
}

absl::Status Session::Run(bool* registered) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateCoordinatorChannel(options_.channel);
  if (!channel.ok()) return channel.status();
  auto stub = v1::WorkerGateway::NewStub(*channel);
  std::unique_ptr<Stream> stream = stub->Session(&ctx_);
  // Read into a fresh arena each time (common/arena_message.h): assignment
  // batches parse without an allocation per task.
  ArenaMessage<v1::CoordinatorMessage> in;
  int held = 0;
  if (!Handshake(stream.get(), in.Fresh(), &held)) {
    absl::Status st =
        Ended(stream->Finish(), "coordinator closed the session");
    if (absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st)) {
      // gRPC words a TLS mistake as "failed to connect": look closer.
      absl::Status tls =
          DiagnoseTls(options_.channel.target, options_.channel.tls);
      if (!tls.ok()) return tls;
    }
    return st;
  }
  *registered = true;
  host_->OnRegistered();
  const absl::Duration heartbeat = absl::Milliseconds(
      std::max<int64_t>(in->registered().heartbeat_interval_ms(), 50));
  LOG(INFO) << "registered with " << options_.channel.target << " as worker "
            << in->registered().worker_id() << " with " << options_.slots
            << " threads and " << options_.processes << " process slots"
            << (held > 0 ? absl::StrCat(", holding ", held,
                                        " attempts from before")
                         : "");

  bool half_closed = false;
  std::thread writer(
      [&] { half_closed = WriteLoop(stream.get(), heartbeat); });
  while (stream->Read(in.Fresh())) {
    if (in->has_assignments()) {
      host_->OnAssignments(in->assignments());
    } else if (in->has_cancel()) {
      host_->OnCancel(in->cancel());
    } else if (in->has_split()) {
      host_->OnSplit(in->split());
    }
  }
  host_->OnReaderEnded();
  writer.join();
  const grpc::Status st = stream->Finish();
  if (half_closed && st.ok()) return absl::OkStatus();  // a drain's clean end
  return Ended(st, "coordinator ended the session");
}

bool Session::Handshake(Stream* stream, v1::CoordinatorMessage* in,
                        int* held) {
  v1::WorkerMessage hello;
  v1::Register* reg = hello.mutable_register_();
  reg->set_host(options_.host);
  reg->set_slots(options_.slots);
  reg->set_processes(options_.processes);
  reg->set_pid(getpid());
  reg->set_version(kVersion);
  host_->FillHeld(reg);
  *held = reg->running_size();
  // The handshake has a deadline: a coordinator that accepts the connection
  // but never answers must not hold the worker forever.
  absl::Notification answered;
  std::thread handshake_timer([&] {
    if (!answered.WaitForNotificationWithTimeout(options_.register_timeout)) {
      ctx_.TryCancel();
    }
  });
  const bool ok =
      stream->Write(hello) && stream->Read(in) && in->has_registered();
  answered.Notify();
  handshake_timer.join();
  return ok;
}

bool Session::WriteLoop(Stream* stream, absl::Duration heartbeat) {
  bool drain_sent = false;
  while (true) {
    v1::WorkerMessage msg;
    const WriteStep step = host_->NextWrite(heartbeat, drain_sent, &msg);
    if (step == WriteStep::kLeave) break;
    if (step == WriteStep::kClose) {
      // Everything is said: half-close and let the coordinator end the
      // stream (the reader sees it); no TryCancel.
      stream->WritesDone();
      return true;
    }
    if (step == WriteStep::kWait) host_->FillHeartbeat(msg.mutable_heartbeat());
    if (!stream->Write(msg)) {
      // A lost split answer is not resent: the next Register's `held`
      // gives the attempt's end as split.
      if (msg.has_results()) host_->Unsent(msg.mutable_results());
      break;
    }
    if (msg.has_drain()) drain_sent = true;
  }
  ctx_.TryCancel();  // the stream is broken or we are leaving: end reads
  return false;
}

}  // namespace shardex
