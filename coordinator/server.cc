#include "coordinator/server.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace shardex {

CoordinatorServer::CoordinatorServer(const CoordinatorOptions& options,
                                     Clock* clock,
                                     std::unique_ptr<Journal> journal)
    : options_(options),
      journal_(std::move(journal)),
      scheduler_(options.scheduler, clock, journal_.get()),
      hub_(&scheduler_, options.watch_interval),
      service_(&scheduler_, &hub_),
      gateway_(&scheduler_) {
  scheduler_.SetJobListener([this](uint64_t job_id, bool terminal) {
    hub_.OnJobChanged(job_id, terminal);
  });
}

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorOptions& options, Clock* clock) {
  std::unique_ptr<Journal> journal;
  if (!options.state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<Journal>> opened =
        OpenSqliteJournal(options.state_dir);
    if (!opened.ok()) return opened.status();
    journal = std::move(opened).value();
  }
  std::unique_ptr<CoordinatorServer> s(
      new CoordinatorServer(options, clock, std::move(journal)));
  if (absl::Status st = s->scheduler_.Recover(); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("cannot load the state in ",
                                     options.state_dir, ": ", st.message()));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &s->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Notice a silently vanished worker host even without heartbeats.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(&s->service_);
  builder.RegisterService(&s->gateway_);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use or not valid?)"));
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
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    server_->Wait();
  }
  if (absl::Status st = scheduler_.SyncJournal(); !st.ok()) {
    LOG(ERROR) << "flushing the state directory: " << st;
  }
  stopped_.Notify();
}

}  // namespace shardex
