#include "client/client.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/health.grpc.pb.h"
#include "common/backoff.h"
#include "common/channel.h"
#include "common/grpc_status.h"
#include "common/job_state.h"
#include "common/tls_diagnosis.h"
#include "grpcpp/channel.h"

namespace shardex {

namespace {

bool IsTransient(const grpc::Status& st) {
  return st.error_code() == grpc::StatusCode::UNAVAILABLE ||
         st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

absl::Status CoordinatorClient::Explain(const grpc::Status& st) {
  const std::string& address = options_.coordinator;
  if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the coordinator at ", address,
        " refused the call: ", st.error_message(),
        ". Pass its token file with --token-file FILE or SHARDEX_TOKEN_FILE "
        "(the coordinator keeps it in <state-dir>/token)"));
  }
  if (IsTransient(st)) {
    if (!reached_) {
      // gRPC words every TLS mistake as "failed to connect": look closer.
      absl::Status tls = DiagnoseTls(address, options_.tls);
      if (!tls.ok()) return absl::UnavailableError(tls.message());
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the coordinator at ", address, ": ", st.error_message(),
        " (is `shardex coordinator` running there? set --coordinator)"));
  }
  return FromGrpcStatus(st);
}

CoordinatorClient::CoordinatorClient(ClientOptions options)
    : options_(std::move(options)) {
  ChannelOptions channel_options;
  channel_options.target = options_.coordinator;
  channel_options.tls = options_.tls;
  channel_options.max_message_bytes = options_.max_message_bytes;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateCoordinatorChannel(channel_options);
  if (!channel.ok()) {
    channel_error_ = channel.status();  // every call returns it
    return;
  }
  channel_ = *std::move(channel);
  stub_ = v1::Coordinator::NewStub(channel_);
}

// gRPC waits out its own reconnect backoff after a failed connect, failing
// calls fast meanwhile; our retries are already paced, so each one may dial.
void CoordinatorClient::RetryConnectNow() {
  grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
}

absl::Status CoordinatorClient::Call(
    const std::function<grpc::Status(grpc::ClientContext*)>& call) {
  if (!channel_error_.ok()) return channel_error_;
  const absl::Time give_up = absl::Now() + options_.retry_for;
  Backoff backoff(options_.backoff);
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
    AddTokenMetadata(options_.token, &ctx);
    grpc::Status st = call(&ctx);
    if (!IsTransient(st)) {
      reached_ = true;
      return st.ok() ? absl::OkStatus() : Explain(st);
    }
    const absl::Duration wait = backoff.Next();
    if (!reached_ || absl::Now() + wait > give_up) return Explain(st);
    absl::SleepFor(wait);
    RetryConnectNow();
  }
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Submit(
    const v1::JobSpec& spec) {
  absl::BitGen rng;
  return Submit(spec,
                absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(rng),
                                absl::Uniform<uint64_t>(rng)));
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Submit(
    const v1::JobSpec& spec, const std::string& request_id) {
  v1::SubmitJobRequest req;
  *req.mutable_spec() = spec;
  req.set_request_id(request_id);
  v1::SubmitJobResponse resp;
  absl::Status st = Call([&](grpc::ClientContext* ctx) {
    return stub_->SubmitJob(ctx, req, &resp);
  });
  if (!st.ok()) return st;
  return resp.status();
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::GetJob(uint64_t job_id) {
  v1::GetJobRequest req;
  req.set_job_id(job_id);
  v1::JobStatus resp;
  absl::Status st = Call(
      [&](grpc::ClientContext* ctx) { return stub_->GetJob(ctx, req, &resp); });
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Cancel(uint64_t job_id) {
  v1::CancelJobRequest req;
  req.set_job_id(job_id);
  v1::CancelJobResponse resp;
  int tries = 0;
  absl::Status st = Call([&](grpc::ClientContext* ctx) {
    ++tries;
    return stub_->CancelJob(ctx, req, &resp);
  });
  if (st.code() == absl::StatusCode::kFailedPrecondition && tries > 1) {
    // An earlier try may have cancelled it and lost the answer.
    absl::StatusOr<v1::JobStatus> now = GetJob(job_id);
    if (now.ok() && now->state() == v1::JOB_CANCELLED) return now;
  }
  if (!st.ok()) return st;
  return resp.status();
}

absl::StatusOr<std::vector<v1::JobStatus>> CoordinatorClient::ListJobs() {
  v1::ListJobsResponse resp;
  absl::Status st = Call([&](grpc::ClientContext* ctx) {
    return stub_->ListJobs(ctx, v1::ListJobsRequest(), &resp);
  });
  if (!st.ok()) return st;
  return std::vector<v1::JobStatus>(resp.jobs().begin(), resp.jobs().end());
}

absl::StatusOr<std::vector<v1::WorkerInfo>> CoordinatorClient::ListWorkers() {
  v1::ListWorkersResponse resp;
  absl::Status st = Call([&](grpc::ClientContext* ctx) {
    return stub_->ListWorkers(ctx, v1::ListWorkersRequest(), &resp);
  });
  if (!st.ok()) return st;
  return std::vector<v1::WorkerInfo>(resp.workers().begin(),
                                     resp.workers().end());
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Watch(
    uint64_t job_id,
    const std::function<void(const v1::JobStatus&)>& on_status) {
  if (!channel_error_.ok()) return channel_error_;
  absl::Time give_up = absl::Now() + options_.retry_for;
  Backoff backoff(options_.backoff);
  while (true) {
    v1::JobStatus last;
    bool progressed = false;
    const grpc::Status st = WatchOnce(job_id, on_status, &last, &progressed);
    if (st.ok()) return last;
    if (absl::Status stopped = WatchStopped(); !stopped.ok()) return stopped;
    if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
        st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
        st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return Explain(st);
    }
    // No stream to be had (beyond --max-watch-streams, say): poll.
    if (!IsTransient(st)) return PollJob(job_id, on_status);
    if (progressed) {  // the link worked: a fresh window for this break
      give_up = absl::Now() + options_.retry_for;
      backoff.Reset();
    }
    const absl::Duration wait = backoff.Next();
    if (!reached_ || absl::Now() + wait > give_up) return Explain(st);
    absl::SleepFor(wait);
    RetryConnectNow();
  }
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::PollJob(
    uint64_t job_id,
    const std::function<void(const v1::JobStatus&)>& on_status) {
  while (true) {
    absl::StatusOr<v1::JobStatus> status = GetJob(job_id);  // retries
    if (!status.ok()) return status.status();
    on_status(*status);
    if (IsTerminal(status->state())) return status;
    if (absl::Status stopped = WatchStopped(); !stopped.ok()) return stopped;
    absl::SleepFor(absl::Milliseconds(500));
  }
}

grpc::Status CoordinatorClient::WatchOnce(
    uint64_t job_id, const std::function<void(const v1::JobStatus&)>& on_status,
    v1::JobStatus* last, bool* progressed) {
  grpc::ClientContext ctx;  // no deadline: jobs may run for hours
  AddTokenMetadata(options_.token, &ctx);
  {
    absl::MutexLock lock(&watch_mu_);
    if (!stopped_why_.empty()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, stopped_why_);
    }
    watch_ctx_ = &ctx;  // StopWatching cancels it from now on
  }
  struct Unregister {
    CoordinatorClient* client;
    ~Unregister() {
      absl::MutexLock lock(&client->watch_mu_);
      client->watch_ctx_ = nullptr;
    }
  } unregister{this};
  v1::WatchJobRequest req;
  req.set_job_id(job_id);
  auto reader = stub_->WatchJob(&ctx, req);
  while (reader->Read(last)) {
    reached_ = true;
    *progressed = true;
    on_status(*last);
    if (IsTerminal(last->state())) {
      ctx.TryCancel();
      reader->Finish();
      return grpc::Status::OK;
    }
  }
  const grpc::Status st = reader->Finish();
  if (!IsTransient(st) && !st.ok()) reached_ = true;
  // A stream that ends cleanly before the job did (the coordinator shutting
  // down) is a break like any other.
  return st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "the coordinator ended the watch early")
                 : st;
}

void CoordinatorClient::StopWatching(const std::string& why) {
  absl::MutexLock lock(&watch_mu_);
  stopped_why_ = why.empty() ? "stopped watching" : why;
  if (watch_ctx_ != nullptr) watch_ctx_->TryCancel();
}

absl::Status CoordinatorClient::WatchStopped() {
  absl::MutexLock lock(&watch_mu_);
  if (stopped_why_.empty()) return absl::OkStatus();
  return absl::CancelledError(stopped_why_);
}

absl::Status CoordinatorClient::CheckHealth(const std::string& service) {
  if (!channel_error_.ok()) return channel_error_;
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  absl::Status st = Call(
      [&](grpc::ClientContext* ctx) { return health->Check(ctx, req, &resp); });
  const std::string name = service.empty() ? "the coordinator" : service;
  if (st.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat(
        "the coordinator at ", options_.coordinator, " has no service named ",
        service, " (try shardex.v1.Coordinator or shardex.v1.WorkerGateway)"));
  }
  if (!st.ok()) return st;
  if (resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat(name, " at ", options_.coordinator, " is ",
                     grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                         resp.status())));
  }
  return absl::OkStatus();
}

}  // namespace shardex
