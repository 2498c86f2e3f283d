#include "coordinator/server.h"

#include "absl/strings/str_cat.h"
#include "common/channel.h"
#include "common/token.h"
#include "coordinator/metrics_endpoint.h"
#include "dashboard/router.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace shardex {

// ------------------------------------------------------- built-in PKI
// Everything the built-in CA changes about serving is in this block.
namespace {

// How often the TLS stack re-reads the server certificate's files, and
// how often RenewLoop asks the CA whether to re-issue them.
constexpr unsigned kCertReloadSeconds = 60;
constexpr absl::Duration kRenewCheckInterval = absl::Hours(1);

bool UseBuiltinCa(const CoordinatorOptions& options) {
  using BuiltinCa = CoordinatorOptions::BuiltinCa;
  if (!options.tls.cert.empty() || options.state_dir.empty() ||
      options.builtin_ca == BuiltinCa::kOff) {
    return false;
  }
  return options.builtin_ca == BuiltinCa::kOn ||
         (!IsLoopbackAddress(options.listen) && !options.insecure);
}

absl::StatusOr<BuiltinPki> OpenBuiltinPki(const CoordinatorOptions& options,
                                          Clock* clock) {
  BuiltinPki pki;
  if (!UseBuiltinCa(options)) return pki;
  CaOptions ca_options;
  ca_options.dir = absl::StrCat(options.state_dir, "/pki");
  ca_options.advertise = options.advertise.empty()
                             ? DefaultAdvertisedNames(options.listen)
                             : options.advertise;
  ca_options.issued_validity = options.issued_cert_ttl;
  absl::StatusOr<std::unique_ptr<CertificateAuthority>> ca =
      CertificateAuthority::Open(ca_options, clock);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::unique_ptr<JoinTokenStore>> tokens =
      JoinTokenStore::Open(absl::StrCat(ca_options.dir, "/join_tokens.db"));
  if (!tokens.ok()) return tokens.status();
  LOG(INFO) << "TLS with the built-in CA (fingerprint " << (*ca)->fingerprint()
            << "); make join tokens with: shardex token create --role "
               "worker|client";
  pki.ca = *std::move(ca);
  pki.join_tokens = *std::move(tokens);
  return pki;
}

// TLS from the CA's files, re-read when they change (so a renewed server
// certificate is served without a restart). Client certificates are
// requested, verified if presented, but not required: Enrollment callers
// have none yet, and Authenticator decides per call.
std::shared_ptr<grpc::ServerCredentials> BuiltinCaCredentials(
    const CertificateAuthority& ca) {
  auto files = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      ca.server_key_path(), ca.server_cert_path(), ca.ca_cert_path(),
      kCertReloadSeconds);
  grpc::experimental::TlsServerCredentialsOptions tls(files);
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(tls);
}

Authenticator MakeAuthenticator(const std::string& token, CertRole role,
                                CertificateAuthority* ca) {
  if (ca == nullptr) return Authenticator(token);
  return Authenticator(token, role, ca->registry());
}

}  // namespace

void CoordinatorServer::RenewLoop() {
  while (!stopping_.WaitForNotificationWithTimeout(kRenewCheckInterval)) {
    if (absl::StatusOr<bool> renewed = ca_->RenewServerCertificateIfNeeded();
        !renewed.ok()) {
      LOG(ERROR) << "renewing the server certificate: " << renewed.status();
    }
  }
}
// ---------------------------------------------------------------------

namespace {

StagingEnv MakeStagingEnv(BlobStore* store, const JobOutputs* outputs,
                          bool shared_fs) {
  StagingEnv env;
  env.store = store;
  env.outputs = outputs;
  env.shared_fs = shared_fs;
  return env;
}

// The dashboard's view of the cluster: the Scheduler's methods.
class SchedulerView : public ClusterView {
 public:
  explicit SchedulerView(Scheduler* scheduler) : scheduler_(scheduler) {}
  std::vector<v1::JobStatus> ListJobs() const override {
    return scheduler_->ListJobs();
  }
  absl::StatusOr<v1::JobStatus> GetJob(uint64_t job_id) const override {
    return scheduler_->GetJob(job_id, JobView::kFull);
  }
  std::vector<v1::WorkerInfo> ListWorkers() const override {
    return scheduler_->ListWorkers();
  }
  absl::StatusOr<v1::ListAttemptsResponse> ListAttempts(
      const v1::ListAttemptsRequest& request) const override {
    return scheduler_->ListAttempts(request);
  }
  absl::StatusOr<v1::JobStatus> Cancel(uint64_t job_id) override {
    return scheduler_->Cancel(job_id);
  }

 private:
  Scheduler* const scheduler_;
};

}  // namespace

CoordinatorServer::CoordinatorServer(const CoordinatorOptions& options,
                                     Clock* clock,
                                     std::unique_ptr<Journal> journal,
                                     std::unique_ptr<BlobStore> store,
                                     std::string token, std::string token_file,
                                     BuiltinPki pki)
    : options_(options),
      token_(std::move(token)),
      token_file_(std::move(token_file)),
      ca_(std::move(pki.ca)),
      join_tokens_(std::move(pki.join_tokens)),
      client_auth_(MakeAuthenticator(token_, CertRole::kClient, ca_.get())),
      worker_auth_(MakeAuthenticator(token_, CertRole::kWorker, ca_.get())),
      enroller_(ca_.get(), join_tokens_.get()),
      enrollment_(&enroller_),
      journal_(std::move(journal)),
      store_(std::move(store)),
      outputs_(store_ == nullptr ? nullptr
                                 : std::make_unique<JobOutputs>(absl::StrCat(
                                       options.state_dir, "/outputs"))),
      scheduler_(options.scheduler, clock, journal_.get(),
                 MakeStagingEnv(store_.get(), outputs_.get(),
                                options.shared_fs)),
      hub_(&scheduler_, options.watch_interval),
      service_(&scheduler_, &hub_, &client_auth_),
      gateway_(&scheduler_, &worker_auth_),
      store_service_(store_.get(), outputs_.get(), &client_auth_,
                     &worker_auth_),
      cluster_view_(std::make_unique<SchedulerView>(&scheduler_)),
      dashboard_(DashboardOptions{token_, SessionOptions{}}, clock,
                 cluster_view_.get()) {
  scheduler_.SetJobListener([this](uint64_t job_id, bool terminal) {
    hub_.OnJobChanged(job_id, terminal);
  });
}

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorOptions& options, Clock* clock) {
  // With the built-in CA, the credentials come once the state directory
  // is ours (after the journal takes it), below.
  const bool builtin_ca = UseBuiltinCa(options);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      builtin_ca ? nullptr : ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  if (!IsLoopbackAddress(options.listen) && options.tls.cert.empty() &&
      !builtin_ca) {
    if (!options.insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", options.listen,
          " is reachable from other hosts, and without TLS anyone on the "
          "network could read the token and the jobs: give a --state-dir "
          "(for the built-in CA), or --tls-cert and --tls-key "
          "(docs/security.md), or --insecure to accept that"));
    }
    LOG(WARNING) << "INSECURE: listening on " << options.listen
                 << " without TLS (--insecure): the token and all traffic "
                    "travel in clear text";
  }

  std::unique_ptr<Journal> journal;
  std::unique_ptr<BlobStore> store;
  if (!options.state_dir.empty()) {
    absl::StatusOr<std::unique_ptr<Journal>> opened =
        OpenSqliteJournal(options.state_dir);
    if (!opened.ok()) return opened.status();
    journal = std::move(opened).value();
    // After the journal, which makes the state directory ours.
    absl::StatusOr<std::unique_ptr<BlobStore>> opened_store = BlobStore::Open(
        absl::StrCat(options.state_dir, "/store"), options.store, clock);
    if (!opened_store.ok()) return opened_store.status();
    store = std::move(opened_store).value();
  }
  absl::StatusOr<BuiltinPki> pki = OpenBuiltinPki(options, clock);
  if (!pki.ok()) return pki.status();
  if (builtin_ca) credentials = BuiltinCaCredentials(*pki->ca);
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
      options, clock, std::move(journal), std::move(store), std::move(token),
      std::move(token_file), *std::move(pki)));
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
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                             kStreamWindowBytes);
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
  {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(s->rpc_errors_.InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  builder.RegisterService(&s->service_);
  builder.RegisterService(&s->gateway_);
  builder.RegisterService(&s->store_service_);
  if (s->ca_ != nullptr) builder.RegisterService(&s->enrollment_);
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
  if (!options.health_listen.empty()) {
    absl::StatusOr<std::unique_ptr<HealthServer>> probe = HealthServer::Start(
        options.health_listen,
        std::vector<std::string>(std::begin(kHealthServices),
                                 std::end(kHealthServices)));
    if (!probe.ok()) return probe.status();
    s->health_ = *std::move(probe);
    s->health_->SetServing(true);
  }
  if (absl::Status st = s->StartHttp(); !st.ok()) return st;
  s->ticker_ = std::thread([raw = s.get()] { raw->TickLoop(); });
  if (s->ca_ != nullptr) {
    s->renewer_ = std::thread([raw = s.get()] { raw->RenewLoop(); });
  }
  return s;
}

absl::Status CoordinatorServer::StartHttp() {
  if (options_.http_listen.empty()) return absl::OkStatus();
  HttpServerOptions http;
  http.listen = options_.http_listen;
  if (!IsLoopbackAddress(options_.http_listen)) {
    if (!options_.tls.cert.empty()) {
      http.cert_file = options_.tls.cert;
      http.key_file = options_.tls.key;
    } else if (ca_ != nullptr) {
      http.cert_file = ca_->server_cert_path();
      http.key_file = ca_->server_key_path();
    } else if (options_.insecure) {
      LOG(WARNING) << "INSECURE: serving /metrics and the dashboard on "
                   << options_.http_listen
                   << " without TLS (--insecure)";
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--http-listen ", options_.http_listen,
          " is reachable from other hosts and the coordinator has no TLS: "
          "give a --state-dir (for the built-in CA), or --tls-cert and "
          "--tls-key, or --insecure to accept plain HTTP"));
    }
  }
  if (options_.metrics_no_auth) {
    LOG(WARNING) << "/metrics on " << options_.http_listen
                 << " answers without the token (--metrics-no-auth)";
  }
  // --metrics-no-auth opens /metrics only; the dashboard always keeps
  // the token.
  HttpHandler metrics = MetricsHandler(options_.metrics_no_auth ? "" : token_,
                                       [this] {
                                         SchedulerMetrics m =
                                             scheduler_.Metrics();
                                         m.rpc_errors = rpc_errors_.Samples();
                                         return m;
                                       });
  absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
      http, CoordinatorHttpHandler(std::move(metrics), &dashboard_));
  if (!started.ok()) return started.status();
  http_ = *std::move(started);
  // With the port actually bound (--http-listen may say :0).
  const std::string base = absl::StrCat(
      http.cert_file.empty() ? "http://" : "https://",
      options_.http_listen.substr(0, options_.http_listen.rfind(':')), ":",
      http_->port());
  LOG(INFO) << "serving /metrics on " << base << "/metrics";
  LOG(INFO) << "dashboard: " << base << "/ (port " << http_->port()
            << "; log in with the token"
            << (token_file_.empty() ? "" : absl::StrCat(" in ", token_file_))
            << ")";
  return absl::OkStatus();
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
  // Probes see NOT_SERVING from the first moment of the shutdown.
  if (health_ != nullptr) health_->SetServing(false);
  stopping_.Notify();
  if (ticker_.joinable()) ticker_.join();
  if (renewer_.joinable()) renewer_.join();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    server_->Wait();
  }
  if (health_ != nullptr) health_->Shutdown();
  if (http_ != nullptr) http_->Shutdown();
  if (absl::Status st = scheduler_.SyncJournal(); !st.ok()) {
    LOG(ERROR) << "flushing the state directory: " << st;
  }
  stopped_.Notify();
}

}  // namespace shardex
