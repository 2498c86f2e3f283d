#include "coordinator/server.h"

#include "absl/strings/str_cat.h"
#include "common/token.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace shardex {

CoordinatorServer::CoordinatorServer(const CoordinatorOptions& options,
                                     Clock* clock,
                                     std::unique_ptr<Journal> journal,
                                     std::string token, std::string token_file)
    : options_(options),
      token_(std::move(token)),
      token_file_(std::move(token_file)),
      auth_(token_),
      journal_(std::move(journal)),
      scheduler_(options.scheduler, clock, journal_.get()),
      hub_(&scheduler_, options.watch_interval),
      service_(&scheduler_, &hub_, &auth_),
      gateway_(&scheduler_, &auth_) {
  scheduler_.SetJobListener([this](uint64_t job_id, bool terminal) {
    hub_.OnJobChanged(job_id, terminal);
  });
}

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorOptions& options, Clock* clock) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  if (!IsLoopbackAddress(options.listen) && options.tls.cert.empty()) {
    if (!options.insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", options.listen,
          " is reachable from other hosts, and without TLS anyone on the "
          "network could read the token and the jobs: give --tls-cert and "
          "--tls-key (docs/security.md), or --insecure to accept that"));
    }
    LOG(WARNING) << "INSECURE: listening on " << options.listen
                 << " without TLS (--insecure): the token and all traffic "
                    "travel in clear text";
  }

  std::unique_ptr<Journal> journal;
  if (!options.state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<Journal>> opened =
        OpenSqliteJournal(options.state_dir);
    if (!opened.ok()) return opened.status();
    journal = std::move(opened).value();
  }
  std::string token_file = options.token_file;
  if (token_file.empty() && !options.state_dir.empty()) {
    token_file = absl::StrCat(options.state_dir, "/token");
  }
  std::string token;
  if (token_file.empty()) {
    token = RandomToken();
  } else {
    bool created = false;
    absl::StatusOr<std::string> loaded =
        LoadOrCreateTokenFile(token_file, &created);
    if (!loaded.ok()) return loaded.status();
    token = *std::move(loaded);
    LOG(INFO) << (created ? "created the access token in " : "access token: ")
              << token_file
              << " (workers and clients: --token-file or SHARDEX_TOKEN_FILE)";
  }
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer(
      options, clock, std::move(journal), std::move(token),
      std::move(token_file)));
  if (absl::Status st = s->scheduler_.Recover(); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("cannot load the state in ",
                                     options.state_dir, ": ", st.message()));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &s->port_);
  // gRPC's own buffers (per stream up to a message) share one bounded
  // quota, so many streams cannot exhaust memory.
  builder.SetResourceQuota(grpc::ResourceQuota("shardex-coordinator")
                               .Resize(options.grpc_memory_bytes));
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Notice a silently vanished worker host even without heartbeats.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Accept the clients' and workers' keepalive pings (every 5 s, with or
  // without calls; common/channel.h) instead of answering them with
  // GOAWAY "too_many_pings": allow one a second, and never count strikes.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.RegisterService(&s->service_);
  builder.RegisterService(&s->gateway_);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use or not valid?)"));
  }
  // Health per service (grpc.health.v1): "" and both services answer
  // SERVING while the server runs; `shardex health` asks.
  grpc::HealthCheckServiceInterface* health =
      s->server_->GetHealthCheckService();
  for (const char* service : kHealthServices) {
    health->SetServingStatus(service, true);
  }
  s->ticker_ = std::thread([raw = s.get()] { raw->TickLoop(); });
  return s;
}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

void CoordinatorServer::TickLoop() {
  while (!stopping_.WaitForNotificationWithTimeout(options_.tick_interval)) {
    scheduler_.Tick();
  }
}

void CoordinatorServer::Wait() { stopped_.WaitForNotification(); }

void CoordinatorServer::Shutdown() {
  if (shutdown_started_.exchange(true)) {
    stopped_.WaitForNotification();
    return;
  }
  stopping_.Notify();
  if (ticker_.joinable()) ticker_.join();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    server_->Wait();
  }
  if (absl::Status st = scheduler_.SyncJournal(); !st.ok()) {
    LOG(ERROR) << "flushing the state directory: " << st;
  }
  stopped_.Notify();
}

}  // namespace shardex
