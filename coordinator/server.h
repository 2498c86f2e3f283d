// CoordinatorServer: one coordinator process's parts wired together — the
// Scheduler, the WatchHub, the BlobStore and job outputs in the state
// directory (docs/staging.md), the gRPC services (plus health checking and
// reflection) on one port, and a thread that ticks the scheduler
// (heartbeat and session timeouts, speculative backups).
//
// Thread-safety: Start, then Wait or Shutdown, from one owning thread.
#ifndef SHARDEX_COORDINATOR_SERVER_H_
#define SHARDEX_COORDINATOR_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/tls.h"
#include "coordinator/auth.h"
#include "coordinator/blob_store.h"
#include "coordinator/job_outputs.h"
#include "coordinator/store_service.h"
#include "coordinator/ca.h"
#include "coordinator/enrollment.h"
#include "coordinator/health_server.h"
#include "coordinator/http_server.h"
#include "coordinator/join_tokens.h"
#include "coordinator/journal.h"
#include "coordinator/metrics_rpc.h"
#include "coordinator/scheduler.h"
#include "coordinator/service.h"
#include "coordinator/watch_hub.h"
#include "coordinator/worker_gateway.h"
#include "dashboard/cluster_view.h"
#include "dashboard/dashboard.h"
#include "grpcpp/server.h"

namespace shardex {

// The service names health checking answers for besides "" (the server
// as a whole).
inline constexpr const char* kHealthServices[] = {
    "shardex.v1.Coordinator", "shardex.v1.WorkerGateway", "shardex.v1.Store"};

struct CoordinatorOptions {
  // host:port; port 0 picks a free one (see CoordinatorServer::port()).
  std::string listen = "127.0.0.1:7473";
  // host:port of a plaintext server answering only grpc.health.v1.Health
  // (coordinator/health_server.h), for Kubernetes' gRPC probes; empty: none.
  std::string health_listen;
  // host:port of the HTTP server for Prometheus' /metrics
  // (coordinator/metrics_endpoint.h) and the web dashboard at /
  // (docs/dashboard.md); empty: none. Beyond loopback it
  // serves HTTPS with the gRPC port's certificate, or plain HTTP only with
  // `insecure`.
  std::string http_listen;
  // Serve /metrics without the token (scrape-only metrics; they hold
  // counts, no job or worker ids).
  bool metrics_no_auth = false;
  Scheduler::Options scheduler;
  // Where jobs and accepted results are kept (SQLite), and the store of
  // staged files (<state_dir>/store) and job outputs (<state_dir>/outputs);
  // empty keeps jobs in memory only, and with no store every job's paths
  // are used as they are.
  std::string state_dir;
  // The store's limits (--max-store-bytes, --max-upload-bytes).
  BlobStoreLimits store;
  // Accept input paths that were not staged, for every job (--shared-fs).
  bool shared_fs = false;
  // The access token's file: created (0600, random) if absent. Empty:
  // <state_dir>/token, or with no state_dir a fresh token in memory only
  // (see token()).
  std::string token_file;
  // TLS (common/tls.h). Without it, listening on anything but loopback
  // needs `insecure`, and logs a warning at every start.
  TlsFiles tls;
  bool insecure = false;
  // The built-in CA (coordinator/ca.h, in <state_dir>/pki) serves TLS and
  // the Enrollment service when no tls.cert is given, a state_dir is, and
  // `builtin_ca` is kOn, or kAuto with `listen` beyond loopback and no
  // `insecure`. Workers and clients then join with join tokens.
  enum class BuiltinCa { kAuto, kOn, kOff };
  BuiltinCa builtin_ca = BuiltinCa::kAuto;
  // Names and addresses the server certificate must carry; empty:
  // DefaultAdvertisedNames(listen).
  std::vector<std::string> advertise;
  // Lifetime of the worker and client certificates it issues.
  absl::Duration issued_cert_ttl = absl::Hours(24);
  absl::Duration watch_interval = absl::Milliseconds(100);
  absl::Duration tick_interval = absl::Milliseconds(100);
  int max_message_bytes = 64 << 20;
  // Memory gRPC may use for buffers across all calls.
  size_t grpc_memory_bytes = size_t{1} << 30;
};

// The built-in CA's parts, opened together (see CoordinatorOptions).
struct BuiltinPki {
  std::unique_ptr<CertificateAuthority> ca;
  std::unique_ptr<JoinTokenStore> join_tokens;
};

class CoordinatorServer {
 public:
  // Opens the state directory, resumes its unfinished jobs, binds the port
  // and starts serving. UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      const CoordinatorOptions& options, Clock* clock);
  ~CoordinatorServer();  // shuts down if still running

  int port() const { return port_; }
  // The --health-listen server's port; 0 without one.
  int health_port() const { return health_ == nullptr ? 0 : health_->port(); }
  // The --http-listen server's port; 0 without one.
  int http_port() const { return http_ == nullptr ? 0 : http_->port(); }
  // The token every call must carry (for in-process clients such as
  // `shardex local`). Never log it.
  const std::string& token() const { return token_; }
  // Where the token is kept; empty when it is in memory only.
  const std::string& token_file() const { return token_file_; }
  Scheduler* scheduler() { return &scheduler_; }
  // Null without a state directory.
  BlobStore* store() { return store_.get(); }
  // The built-in CA, or null when TLS is off or uses the user's own files.
  CertificateAuthority* ca() { return ca_.get(); }

  // Blocks until Shutdown is called from another thread.
  void Wait();
  // Stops accepting calls, ends streams, joins threads and makes the
  // journal durable. Idempotent.
  void Shutdown();

 private:
  CoordinatorServer(const CoordinatorOptions& options, Clock* clock,
                    std::unique_ptr<Journal> journal,
                    std::unique_ptr<BlobStore> store, std::string token,
                    std::string token_file, BuiltinPki pki);
  void TickLoop();
  // Built-in CA only: re-issues the server certificate when due (the
  // server's TLS watches its files), hourly until Shutdown.
  void RenewLoop();
  // Starts http_ (--http-listen) with the TLS and auth rules of the gRPC
  // port.
  absl::Status StartHttp();

  const CoordinatorOptions options_;
  const std::string token_;
  const std::string token_file_;
  // Null without the built-in CA.
  const std::unique_ptr<CertificateAuthority> ca_;
  const std::unique_ptr<JoinTokenStore> join_tokens_;
  // Token, or a certificate of the service's role from ca_.
  const Authenticator client_auth_;
  const Authenticator worker_auth_;
  Enroller enroller_;
  EnrollmentService enrollment_;
  std::unique_ptr<Journal> journal_;  // may be null
  // Both null without a state directory.
  const std::unique_ptr<BlobStore> store_;
  const std::unique_ptr<JobOutputs> outputs_;
  Scheduler scheduler_;
  WatchHub hub_;
  CoordinatorService service_;
  WorkerGatewayService gateway_;
  StoreService store_service_;
  // The web dashboard on http_'s port (docs/dashboard.md), reading
  // scheduler_ through cluster_view_.
  const std::unique_ptr<ClusterView> cluster_view_;
  Dashboard dashboard_;
  RpcErrorCounts rpc_errors_;  // outlives server_ (declared before it)
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<HealthServer> health_;  // null without --health-listen
  std::unique_ptr<HttpServer> http_;      // null without --http-listen
  std::atomic<bool> shutdown_started_{false};
  absl::Notification stopping_;
  absl::Notification stopped_;
  std::thread ticker_;
  std::thread renewer_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SERVER_H_
