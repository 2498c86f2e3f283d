// WorkerGatewayService: the gRPC end of worker sessions. Each worker holds
// one bidirectional stream; this layer turns its messages into Scheduler
// calls and gives the Scheduler a WorkerLink to write back on. When the
// stream breaks, the worker is removed at once and its shards re-queued.
//
// Thread-safety: gRPC runs the reactors on its threads; each reactor's
// state is touched only from its own callbacks, which gRPC serialises.
#ifndef SHARDEX_COORDINATOR_WORKER_GATEWAY_H_
#define SHARDEX_COORDINATOR_WORKER_GATEWAY_H_

#include "coordinator/auth.h"
#include "coordinator/scheduler.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class WorkerGatewayService final
    : public shardex::v1::WorkerGateway::CallbackService {
 public:
  // Sessions whose access `auth` rejects end at once, UNAUTHENTICATED; an
  // open session whose certificate is revoked ends within about a second.
  WorkerGatewayService(Scheduler* scheduler, const Authenticator* auth)
      : scheduler_(scheduler), auth_(auth) {}

  grpc::ServerBidiReactor<shardex::v1::WorkerMessage,
                          shardex::v1::CoordinatorMessage>*
  Session(grpc::CallbackServerContext* ctx) override;

 private:
  Scheduler* const scheduler_;
  const Authenticator* const auth_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_WORKER_GATEWAY_H_
