// CoordinatorServer: one coordinator process's parts wired together — the
// Scheduler, the WatchHub, both gRPC services (plus health checking and
// reflection) on one port, and a thread that ticks the scheduler's
// heartbeat checks.
//
// Thread-safety: Start, then Wait or Shutdown, from one owning thread.
#ifndef SHARDEX_COORDINATOR_SERVER_H_
#define SHARDEX_COORDINATOR_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler.h"
#include "coordinator/service.h"
#include "coordinator/watch_hub.h"
#include "coordinator/worker_gateway.h"
#include "grpcpp/server.h"

namespace shardex {

struct CoordinatorOptions {
  // host:port; port 0 picks a free one (see CoordinatorServer::port()).
  std::string listen = "127.0.0.1:7473";
  Scheduler::Options scheduler;
  // Where jobs and accepted results are kept (SQLite); empty keeps them in
  // memory only.
  std::string state_dir;
  absl::Duration watch_interval = absl::Milliseconds(100);
  absl::Duration tick_interval = absl::Milliseconds(100);
  int max_message_bytes = 64 << 20;
};

class CoordinatorServer {
 public:
  // Opens the state directory, resumes its unfinished jobs, binds the port
  // and starts serving. UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      const CoordinatorOptions& options, Clock* clock);
  ~CoordinatorServer();  // shuts down if still running

  int port() const { return port_; }
  Scheduler* scheduler() { return &scheduler_; }

  // Blocks until Shutdown is called from another thread.
  void Wait();
  // Stops accepting calls, ends streams, joins threads and makes the
  // journal durable. Idempotent.
  void Shutdown();

 private:
  CoordinatorServer(const CoordinatorOptions& options, Clock* clock,
                    std::unique_ptr<Journal> journal);
  void TickLoop();

  const CoordinatorOptions options_;
  std::unique_ptr<Journal> journal_;  // may be null
  Scheduler scheduler_;
  WatchHub hub_;
  CoordinatorService service_;
  WorkerGatewayService gateway_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> shutdown_started_{false};
  absl::Notification stopping_;
  absl::Notification stopped_;
  std::thread ticker_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SERVER_H_
