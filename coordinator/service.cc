#include "coordinator/service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "coordinator/edge_status.h"
#include "coordinator/stream_writer.h"

namespace shardex {

namespace {

// Streams one job's statuses to a WatchJob caller and finishes after the
// terminal one.
class WatchReactor : public grpc::ServerWriteReactor<v1::JobStatus> {
 public:
  // Forwards the hub's posts to the stream, outliving the reactor safely.
  class Outlet : public JobWatcher {
   public:
    explicit Outlet(std::shared_ptr<StreamWriter<v1::JobStatus>> writer)
        : writer_(std::move(writer)) {}
    void Post(const v1::JobStatus& status) override {
      writer_->Write(status, /*coalesce=*/true);
      if (IsTerminal(status.state())) {
        writer_->Finish(grpc::Status::OK, /*drop_queued=*/false);
      }
    }
    void End(const absl::Status& status) override {
      writer_->Finish(EdgeStatus(status), /*drop_queued=*/false);
    }

   private:
    std::shared_ptr<StreamWriter<v1::JobStatus>> writer_;
  };

  // `allowed`: the caller's token check; a failure ends the stream at once.
  WatchReactor(WatchHub* hub, uint64_t job_id, const absl::Status& allowed)
      : hub_(hub), job_id_(job_id) {
    writer_ = std::make_shared<StreamWriter<v1::JobStatus>>(
        [this](const v1::JobStatus* s) { StartWrite(s); },
        [this](const grpc::Status& s) { Finish(s); });
    outlet_ = std::make_shared<Outlet>(writer_);
    absl::Status st = allowed;
    // Admission before anything is held: a refused stream costs nothing.
    if (st.ok()) st = hub_->AddStream();
    admitted_ = st.ok();
    if (st.ok()) st = hub_->Subscribe(job_id_, outlet_);
    if (!st.ok()) writer_->Finish(EdgeStatus(st), /*drop_queued=*/true);
  }

  void OnWriteDone(bool ok) override { writer_->OnWriteDone(ok); }
  void OnCancel() override {
    writer_->Finish(grpc::Status::CANCELLED, /*drop_queued=*/true);
  }
  void OnDone() override {
    hub_->Unsubscribe(job_id_, outlet_.get());
    if (admitted_) hub_->RemoveStream();
    writer_->Detach();
    delete this;
  }

 private:
  WatchHub* const hub_;
  const uint64_t job_id_;
  bool admitted_ = false;  // counted by the hub's AddStream
  std::shared_ptr<StreamWriter<v1::JobStatus>> writer_;
  std::shared_ptr<Outlet> outlet_;
};

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::SubmitJob(
    grpc::CallbackServerContext* ctx, const v1::SubmitJobRequest* request,
    v1::SubmitJobResponse* response) {
  if (absl::Status st = auth_->Check(*ctx); !st.ok()) return Done(ctx, st);
  // Submit plans the job and waits for the journal: not on this thread.
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  scheduler_->SubmitAsync(
      request->spec(), request->request_id(),
      [reactor, response](absl::StatusOr<v1::JobStatus> status) {
        if (status.ok()) {
          response->set_job_id(status->job_id());
          *response->mutable_status() = *std::move(status);
        }
        reactor->Finish(EdgeStatus(status.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::GetJob(
    grpc::CallbackServerContext* ctx, const v1::GetJobRequest* request,
    v1::JobStatus* response) {
  if (absl::Status st = auth_->Check(*ctx); !st.ok()) return Done(ctx, st);
  absl::StatusOr<v1::JobStatus> status = scheduler_->GetJob(request->job_id());
  if (status.ok()) *response = *std::move(status);
  return Done(ctx, status.status());
}

grpc::ServerWriteReactor<v1::JobStatus>* CoordinatorService::WatchJob(
    grpc::CallbackServerContext* ctx, const v1::WatchJobRequest* request) {
  return new WatchReactor(hub_, request->job_id(), auth_->Check(*ctx));
}

grpc::ServerUnaryReactor* CoordinatorService::CancelJob(
    grpc::CallbackServerContext* ctx, const v1::CancelJobRequest* request,
    v1::CancelJobResponse* response) {
  if (absl::Status st = auth_->Check(*ctx); !st.ok()) return Done(ctx, st);
  absl::StatusOr<v1::JobStatus> status = scheduler_->Cancel(request->job_id());
  if (status.ok()) *response->mutable_status() = *std::move(status);
  return Done(ctx, status.status());
}

grpc::ServerUnaryReactor* CoordinatorService::ListJobs(
    grpc::CallbackServerContext* ctx, const v1::ListJobsRequest* request,
    v1::ListJobsResponse* response) {
  if (absl::Status st = auth_->Check(*ctx); !st.ok()) return Done(ctx, st);
  for (v1::JobStatus& s : scheduler_->ListJobs()) {
    *response->add_jobs() = std::move(s);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::ListWorkers(
    grpc::CallbackServerContext* ctx, const v1::ListWorkersRequest* request,
    v1::ListWorkersResponse* response) {
  if (absl::Status st = auth_->Check(*ctx); !st.ok()) return Done(ctx, st);
  for (v1::WorkerInfo& w : scheduler_->ListWorkers()) {
    *response->add_workers() = std::move(w);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::ListAttempts(
    grpc::CallbackServerContext* ctx, const v1::ListAttemptsRequest* request,
    v1::ListAttemptsResponse* response) {
  if (absl::Status st = auth_->Check(*ctx); !st.ok()) return Done(ctx, st);
  absl::StatusOr<v1::ListAttemptsResponse> page =
      scheduler_->ListAttempts(*request);
  if (!page.ok()) return Done(ctx, page.status());
  *response = *std::move(page);
  return Done(ctx, absl::OkStatus());
}

}  // namespace shardex
