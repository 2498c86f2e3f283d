#include "coordinator/service.h"

#include <memory>
#include <utility>

#include "common/grpc_status.h"
#include "coordinator/stream_writer.h"

namespace shardex {

namespace v1 = ::shardex::v1;

namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                               const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

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

   private:
    std::shared_ptr<StreamWriter<v1::JobStatus>> writer_;
  };

  WatchReactor(WatchHub* hub, uint64_t job_id) : hub_(hub), job_id_(job_id) {
    writer_ = std::make_shared<StreamWriter<v1::JobStatus>>(
        [this](const v1::JobStatus* s) { StartWrite(s); },
        [this](const grpc::Status& s) { Finish(s); });
    outlet_ = std::make_shared<Outlet>(writer_);
    absl::Status st = hub_->Subscribe(job_id_, outlet_);
    if (!st.ok()) writer_->Finish(ToGrpcStatus(st), /*drop_queued=*/true);
  }

  void OnWriteDone(bool ok) override { writer_->OnWriteDone(ok); }
  void OnCancel() override {
    writer_->Finish(grpc::Status::CANCELLED, /*drop_queued=*/true);
  }
  void OnDone() override {
    hub_->Unsubscribe(job_id_, outlet_.get());
    writer_->Detach();
    delete this;
  }

 private:
  WatchHub* const hub_;
  const uint64_t job_id_;
  std::shared_ptr<StreamWriter<v1::JobStatus>> writer_;
  std::shared_ptr<Outlet> outlet_;
};

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::SubmitJob(
    grpc::CallbackServerContext* ctx, const v1::SubmitJobRequest* request,
    v1::SubmitJobResponse* response) {
  // Submit plans the job and waits for the journal: not on this thread.
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  scheduler_->SubmitAsync(
      request->spec(), request->request_id(),
      [reactor, response](absl::StatusOr<v1::JobStatus> status) {
        if (status.ok()) {
          response->set_job_id(status->job_id());
          *response->mutable_status() = *std::move(status);
        }
        reactor->Finish(ToGrpcStatus(status.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::GetJob(
    grpc::CallbackServerContext* ctx, const v1::GetJobRequest* request,
    v1::JobStatus* response) {
  absl::StatusOr<v1::JobStatus> status = scheduler_->GetJob(request->job_id());
  if (status.ok()) *response = *std::move(status);
  return Done(ctx, status.status());
}

grpc::ServerWriteReactor<v1::JobStatus>* CoordinatorService::WatchJob(
    grpc::CallbackServerContext* ctx, const v1::WatchJobRequest* request) {
  return new WatchReactor(hub_, request->job_id());
}

grpc::ServerUnaryReactor* CoordinatorService::CancelJob(
    grpc::CallbackServerContext* ctx, const v1::CancelJobRequest* request,
    v1::CancelJobResponse* response) {
  absl::StatusOr<v1::JobStatus> status = scheduler_->Cancel(request->job_id());
  if (status.ok()) *response->mutable_status() = *std::move(status);
  return Done(ctx, status.status());
}

grpc::ServerUnaryReactor* CoordinatorService::ListJobs(
    grpc::CallbackServerContext* ctx, const v1::ListJobsRequest* request,
    v1::ListJobsResponse* response) {
  for (v1::JobStatus& s : scheduler_->ListJobs()) {
    *response->add_jobs() = std::move(s);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::ListWorkers(
    grpc::CallbackServerContext* ctx, const v1::ListWorkersRequest* request,
    v1::ListWorkersResponse* response) {
  for (v1::WorkerInfo& w : scheduler_->ListWorkers()) {
    *response->add_workers() = std::move(w);
  }
  return Done(ctx, absl::OkStatus());
}

}  // namespace shardex
