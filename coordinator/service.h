// CoordinatorService: the client-facing gRPC service (SubmitJob, GetJob,
// WatchJob, CancelJob, ListJobs, ListWorkers, ListAttempts). A thin translation layer over
// Scheduler and WatchHub: no job logic lives here. Handlers use gRPC's
// callback API and return at once; nothing blocks a gRPC thread.
//
// Thread-safety: gRPC calls the handlers from many threads; the service
// holds no state of its own.
#ifndef SHARDEX_COORDINATOR_SERVICE_H_
#define SHARDEX_COORDINATOR_SERVICE_H_

#include "coordinator/auth.h"
#include "coordinator/scheduler.h"
#include "coordinator/watch_hub.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class CoordinatorService final
    : public shardex::v1::Coordinator::CallbackService {
 public:
  // Every handler first checks the caller's token with `auth`.
  CoordinatorService(Scheduler* scheduler, WatchHub* hub,
                     const Authenticator* auth)
      : scheduler_(scheduler), hub_(hub), auth_(auth) {}

  grpc::ServerUnaryReactor* SubmitJob(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::SubmitJobRequest* request,
      shardex::v1::SubmitJobResponse* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* ctx,
                                   const shardex::v1::GetJobRequest* request,
                                   shardex::v1::JobStatus* response) override;
  grpc::ServerWriteReactor<shardex::v1::JobStatus>* WatchJob(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* CancelJob(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::CancelJobRequest* request,
      shardex::v1::CancelJobResponse* response) override;
  grpc::ServerUnaryReactor* ListJobs(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::ListJobsRequest* request,
      shardex::v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* ListWorkers(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::ListWorkersRequest* request,
      shardex::v1::ListWorkersResponse* response) override;
  // A page of a job's shard log (Scheduler::ListAttempts).
  grpc::ServerUnaryReactor* ListAttempts(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::ListAttemptsRequest* request,
      shardex::v1::ListAttemptsResponse* response) override;

 private:
  Scheduler* const scheduler_;
  WatchHub* const hub_;
  const Authenticator* const auth_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SERVICE_H_
