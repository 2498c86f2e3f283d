#include "coordinator/worker_gateway.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/arena_message.h"
#include "common/grpc_status.h"
#include "coordinator/stream_writer.h"
#include "glog/logging.h"

namespace shardex {

namespace {

using Writer = StreamWriter<v1::CoordinatorMessage>;

// The scheduler's handle on a session; safe after the reactor is gone.
class StreamLink : public WorkerLink {
 public:
  explicit StreamLink(std::shared_ptr<Writer> writer)
      : writer_(std::move(writer)) {}
  void Send(v1::CoordinatorMessage message) override {
    writer_->Write(std::move(message));
  }
  void Close(const absl::Status& reason) override {
    writer_->Finish(ToGrpcStatus(reason), /*drop_queued=*/true);
  }

 private:
  std::shared_ptr<Writer> writer_;
};

class SessionReactor
    : public grpc::ServerBidiReactor<v1::WorkerMessage,
                                     v1::CoordinatorMessage> {
 public:
  // `allowed`: the caller's access check; a failure ends the session at
  // once. `auth` checks again while the session lasts (a revoked worker
  // certificate ends it).
  SessionReactor(Scheduler* scheduler, const Authenticator* auth,
                 grpc::CallbackServerContext* ctx, const absl::Status& allowed)
      : scheduler_(scheduler), auth_(auth), ctx_(ctx), peer_(ctx->peer()) {
    writer_ = std::make_shared<Writer>(
        [this](const v1::CoordinatorMessage* m) { StartWrite(m); },
        [this](const grpc::Status& s) { Finish(s); });
    if (!allowed.ok()) {
      LOG(WARNING) << "worker session from " << peer_ << " refused: "
                   << allowed.message();
      writer_->Finish(ToGrpcStatus(allowed), /*drop_queued=*/true);
      return;
    }
    link_ = std::make_shared<StreamLink>(writer_);
    absl::StatusOr<uint64_t> session = scheduler_->OpenSession(link_);
    if (!session.ok()) {  // too many sessions: refuse before reading
      LOG(WARNING) << "worker session from " << peer_ << " refused: "
                   << session.status().message();
      writer_->Finish(ToGrpcStatus(session.status()), /*drop_queued=*/true);
      return;
    }
    session_ = *session;
    StartRead(in_.Fresh());
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the worker hung up or the stream broke
      End(grpc::Status::OK);
      return;
    }
    absl::Status st = StillAllowed();
    if (st.ok()) st = Handle();
    if (!st.ok()) {
      LOG(WARNING) << "worker session from " << peer_ << " ended: " << st;
      End(ToGrpcStatus(st));
      return;
    }
    StartRead(in_.Fresh());
  }

  void OnWriteDone(bool ok) override { writer_->OnWriteDone(ok); }

  void OnDone() override {
    if (session_ != 0) scheduler_->CloseSession(session_);
    writer_->Detach();
    delete this;
  }

 private:
  // The session's access, checked again at most once per kRecheckEvery (a
  // worker sends a heartbeat or results at least once a second), so a
  // certificate revoked with `shardex cert revoke` ends an open session
  // within about a second, not at its next reconnect.
  absl::Status StillAllowed() {
    const absl::Time now = absl::Now();
    if (now - last_check_ < kRecheckEvery) return absl::OkStatus();
    last_check_ = now;
    return auth_->Check(*ctx_);
  }

  absl::Status Handle() {
    if (worker_id_ == 0) {
      if (!in_->has_register_()) {
        return absl::FailedPreconditionError(
            "the first message of a session must be Register");
      }
      absl::StatusOr<uint64_t> id =
          scheduler_->AddWorker(in_->register_(), peer_, link_, session_);
      if (!id.ok()) return id.status();
      worker_id_ = *id;
      LOG(INFO) << "worker " << worker_id_ << " joined from "
                << in_->register_().host() << " (" << peer_ << ") with "
                << in_->register_().slots() << " slots";
      return absl::OkStatus();
    }
    switch (in_->body_case()) {
      case v1::WorkerMessage::kResults:
        return scheduler_->OnResults(worker_id_, in_->results());
      case v1::WorkerMessage::kHeartbeat:
        scheduler_->OnHeartbeat(worker_id_, in_->heartbeat());
        return absl::OkStatus();
      case v1::WorkerMessage::kDrain:
        scheduler_->OnDrain(worker_id_);
        return absl::OkStatus();
      case v1::WorkerMessage::kSplit:
        scheduler_->OnSplit(worker_id_, in_->split());
        return absl::OkStatus();
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected worker message (field ",
                         static_cast<int>(in_->body_case()), ")"));
    }
  }

  void End(const grpc::Status& status) {
    if (worker_id_ != 0) {
      LOG(INFO) << "worker " << worker_id_ << " left (" << peer_ << ")";
      scheduler_->RemoveWorker(worker_id_);
    }
    writer_->Finish(status, /*drop_queued=*/true);
  }

  static constexpr absl::Duration kRecheckEvery = absl::Seconds(1);

  Scheduler* const scheduler_;
  const Authenticator* const auth_;
  grpc::CallbackServerContext* const ctx_;
  const std::string peer_;
  absl::Time last_check_ = absl::Now();  // checked when the session opened
  std::shared_ptr<Writer> writer_;
  std::shared_ptr<StreamLink> link_;  // the scheduler's handle on writer_
  // Read into a fresh arena each time (common/arena_message.h): result
  // batches parse without an allocation per result.
  ArenaMessage<v1::WorkerMessage> in_;
  uint64_t session_ = 0;  // from Scheduler::OpenSession; 0 if refused
  uint64_t worker_id_ = 0;
};

}  // namespace

grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>*
WorkerGatewayService::Session(grpc::CallbackServerContext* ctx) {
  return new SessionReactor(scheduler_, auth_, ctx, auth_->Check(*ctx));
}

}  // namespace shardex
