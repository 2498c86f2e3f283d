#include "client/client.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/channel.h"
#include "common/grpc_status.h"
#include "common/job_state.h"

namespace shardex {

namespace {

// Names the coordinator in connection errors, which gRPC words vaguely.
absl::Status Explain(const grpc::Status& st, const std::string& address) {
  if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the coordinator at ", address, " refused the call: ",
        st.error_message(),
        ". Pass its token file with --token-file FILE or SHARDEX_TOKEN_FILE "
        "(the coordinator keeps it in <state-dir>/token)"));
  }
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
  stub_ = v1::Coordinator::NewStub(*channel);
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
    const bool transient =
        st.error_code() == grpc::StatusCode::UNAVAILABLE ||
        st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!transient) {
      reached_ = true;
      return st.ok() ? absl::OkStatus() : Explain(st, options_.coordinator);
    }
    const absl::Duration wait = backoff.Next();
    if (!reached_ || absl::Now() + wait > give_up) {
      return Explain(st, options_.coordinator);
    }
    absl::SleepFor(wait);
  }
}

absl::StatusOr<v1::JobStatus> CoordinatorClient::Submit(
    const v1::JobSpec& spec) {
  absl::BitGen rng;
  return Submit(spec, absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(rng),
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
  absl::Status st = Call([&](grpc::ClientContext* ctx) {
    return stub_->GetJob(ctx, req, &resp);
  });
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
  {
    if (!channel_error_.ok()) return channel_error_;
    grpc::ClientContext ctx;  // no deadline: jobs may run for hours
    AddTokenMetadata(options_.token, &ctx);
    v1::WatchJobRequest req;
    req.set_job_id(job_id);
    auto reader = stub_->WatchJob(&ctx, req);
    v1::JobStatus status;
    while (reader->Read(&status)) {
      reached_ = true;
      on_status(status);
      if (IsTerminal(status.state())) {
        ctx.TryCancel();
        reader->Finish();
        return status;
      }
    }
    grpc::Status st = reader->Finish();
    if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
        st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
        st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return Explain(st, options_.coordinator);
    }
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE) reached_ = true;
  }
  // The stream broke before the end (a coordinator restart?): poll
  // instead; GetJob rides out a restart with its retries.
  while (true) {
    absl::StatusOr<v1::JobStatus> status = GetJob(job_id);
    if (!status.ok()) return status.status();
    on_status(*status);
    if (IsTerminal(status->state())) return status;
    absl::SleepFor(absl::Milliseconds(500));
  }
}

}  // namespace shardex
