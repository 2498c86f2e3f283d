// HealthServer: a second, plaintext gRPC server that answers only
// grpc.health.v1.Health, for probes that cannot speak the main port's TLS
// or carry its token — Kubernetes' native gRPC probes (`grpc: {port: N}`)
// are plaintext only (deploy/kubernetes/). It serves nothing else: no
// shardex service, no reflection, no auth; all it reveals is whether the
// coordinator is SERVING or NOT_SERVING, for "" (the server as a whole)
// and each name in `services`.
//
// `shardex coordinator --health-listen ADDR:PORT` starts one; the
// CoordinatorServer sets it SERVING once it serves and NOT_SERVING as soon
// as its shutdown starts.
//
// Thread-safety: SetServing may be called from any thread; Start and
// Shutdown from one owning thread.
#ifndef SHARDEX_COORDINATOR_HEALTH_SERVER_H_
#define SHARDEX_COORDINATOR_HEALTH_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/server.h"

namespace shardex {

class HealthServer {
 public:
  // Binds `listen` (host:port; port 0 picks a free one, see port()) and
  // serves NOT_SERVING until SetServing(true). UNAVAILABLE if the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(
      const std::string& listen, std::vector<std::string> services);
  ~HealthServer();  // shuts down if still running

  int port() const { return port_; }
  // Sets "" and every service of Start to SERVING or NOT_SERVING.
  void SetServing(bool serving);
  // Stops serving (open calls get a short grace). Idempotent.
  void Shutdown();

 private:
  HealthServer(std::unique_ptr<grpc::Server> server,
               std::unique_ptr<grpc::CallbackGenericService> unimplemented,
               int port, std::vector<std::string> services);

  // Outlives server_ (declared first, destroyed last).
  std::unique_ptr<grpc::CallbackGenericService> unimplemented_;
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::vector<std::string> services_;
  bool shut_down_ = false;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_HEALTH_SERVER_H_
