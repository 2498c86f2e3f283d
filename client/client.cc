#include "client/client.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/job_state.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace shardex {

namespace v1 = ::shardex::v1;

namespace {

// Names the coordinator in connection errors, which gRPC words vaguely.
absl::Status Explain(const grpc::Status& st, const std::string& address) {
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE ||
      st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the coordinator at ", address, ": ",
        st.error_message(),
        " (is `shardex coordinator` running there? set --coordinator)"));
  }
  return FromGrpcStatus(st);
}

}  // namespace

CoordinatorClient::CoordinatorClient(ClientOptions options)
    : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  stub_ = v1::Coordinator::NewStub(grpc::CreateCustomChannel(
      options_.coordinator, grpc::InsecureChannelCredentials(), args));
}

void CoordinatorClient::SetDeadline(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Submit(
    const v1::JobSpec& spec) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::SubmitJobRequest req;
  *req.mutable_spec() = spec;
  v1::SubmitJobResponse resp;
  grpc::Status st = stub_->SubmitJob(&ctx, req, &resp);
  if (!st.ok()) return Explain(st, options_.coordinator);
  return resp.status();
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::GetJob(uint64_t job_id) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetJobRequest req;
  req.set_job_id(job_id);
  v1::JobStatus resp;
  grpc::Status st = stub_->GetJob(&ctx, req, &resp);
  if (!st.ok()) return Explain(st, options_.coordinator);
  return resp;
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Cancel(uint64_t job_id) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::CancelJobRequest req;
  req.set_job_id(job_id);
  v1::CancelJobResponse resp;
  grpc::Status st = stub_->CancelJob(&ctx, req, &resp);
  if (!st.ok()) return Explain(st, options_.coordinator);
  return resp.status();
}

absl::StatusOr<std::vector<v1::JobStatus>> CoordinatorClient::ListJobs() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::ListJobsResponse resp;
  grpc::Status st = stub_->ListJobs(&ctx, v1::ListJobsRequest(), &resp);
  if (!st.ok()) return Explain(st, options_.coordinator);
  return std::vector<v1::JobStatus>(resp.jobs().begin(), resp.jobs().end());
}

absl::StatusOr<std::vector<v1::WorkerInfo>> CoordinatorClient::ListWorkers() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::ListWorkersResponse resp;
  grpc::Status st = stub_->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp);
  if (!st.ok()) return Explain(st, options_.coordinator);
  return std::vector<v1::WorkerInfo>(resp.workers().begin(),
                                     resp.workers().end());
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Watch(
    uint64_t job_id,
    const std::function<void(const v1::JobStatus&)>& on_status) {
  {
    grpc::ClientContext ctx;  // no deadline: jobs may run for hours
    v1::WatchJobRequest req;
    req.set_job_id(job_id);
    auto reader = stub_->WatchJob(&ctx, req);
    v1::JobStatus status;
    while (reader->Read(&status)) {
      on_status(status);
      if (IsTerminal(status.state())) {
        ctx.TryCancel();
        reader->Finish();
        return status;
      }
    }
    grpc::Status st = reader->Finish();
    if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
        st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return FromGrpcStatus(st);
    }
  }
  // The stream broke before the end: poll instead.
  while (true) {
    absl::StatusOr<v1::JobStatus> status = GetJob(job_id);
    if (!status.ok()) return status.status();
    on_status(*status);
    if (IsTerminal(status->state())) return status;
    absl::SleepFor(absl::Milliseconds(500));
  }
}

}  // namespace shardex
