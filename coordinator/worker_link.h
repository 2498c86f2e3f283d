// WorkerLink: the scheduler's handle on one connected worker's stream.
// The transport (coordinator/worker_gateway.cc) implements it over a gRPC
// stream; tests use FakeWorkerLink. Keeping the scheduler behind this
// interface is what lets scheduling be tested without sockets.
//
// Thread-safety: implementations must be safe to call from any thread, and
// must never block: Send only queues the message.
#ifndef SHARDEX_COORDINATOR_WORKER_LINK_H_
#define SHARDEX_COORDINATOR_WORKER_LINK_H_

#include "absl/status/status.h"
#include "proto/shardex.pb.h"

namespace shardex {

class WorkerLink {
 public:
  virtual ~WorkerLink() = default;

  // Queues `message` for the worker. Dropped if the stream has ended.
  virtual void Send(shardex::v1::CoordinatorMessage message) = 0;

  // Ends the stream with `reason` (e.g. a missed heartbeat). Idempotent.
  virtual void Close(const absl::Status& reason) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_WORKER_LINK_H_
