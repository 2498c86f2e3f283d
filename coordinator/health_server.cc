#include "coordinator/health_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace shardex {

namespace {

// Drops the builder plugins registered process-wide (the coordinator's
// main server registers reflection's, and every ServerBuilder made after
// that would serve reflection too): this server answers health only.
class NoPlugins : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->clear();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(
    const std::string& listen, std::vector<std::string> services) {
  // gRPC's default health service is what the builder adds when no other
  // is registered; the switch is process-wide (the main server sets it).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  auto unimplemented = std::make_unique<grpc::CallbackGenericService>();
  // Plaintext on purpose: what it answers is public (see the header).
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetOption(std::make_unique<NoPlugins>());
  // gRPC refuses to start a server without a service of its own ("at
  // least one of the completion queues must be frequently polled"): the
  // generic service answers UNIMPLEMENTED to every method not health's.
  builder.RegisterCallbackGenericService(unimplemented.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --health-listen ", listen,
                     " (address in use or not valid?)"));
  }
  std::unique_ptr<HealthServer> health(new HealthServer(
      std::move(server), std::move(unimplemented), port, std::move(services)));
  health->SetServing(false);
  return health;
}

HealthServer::HealthServer(
    std::unique_ptr<grpc::Server> server,
    std::unique_ptr<grpc::CallbackGenericService> unimplemented, int port,
    std::vector<std::string> services)
    : unimplemented_(std::move(unimplemented)),
      server_(std::move(server)),
      port_(port),
      services_(std::move(services)) {}

HealthServer::~HealthServer() { Shutdown(); }

void HealthServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", serving);
  for (const std::string& service : services_) {
    health->SetServingStatus(service, serving);
  }
}

void HealthServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  server_->Wait();
}

}  // namespace shardex
