#include "cli/enroll.h"

#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/join_token.h"
#include "common/key_file.h"
#include "common/pki.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

namespace {

using Stub = v1::Enrollment::Stub;

// TLS that accepts any server certificate: only for GetCa, whose answer
// is checked against the token's fingerprint before anything is trusted.
// gRPC wants root certificates even when it verifies nothing, and without
// any of its own it loads the system's (ca-certificates): a host with none
// (a minimal container or Debian root) could not join. So it gets a root
// of its own, made here and thrown away, which verifies nothing either.
absl::StatusOr<std::unique_ptr<Stub>> UnverifiedStub(
    const std::string& target) {
  ASSIGN_OR_RETURN(std::string key_pem, NewPrivateKeyPem());
  const absl::Time now = absl::Now();
  ASSIGN_OR_RETURN(std::string placeholder_root,
                   SelfSignedCaPem(key_pem, "shardex unverified GetCa",
                                   now - absl::Hours(1), now + absl::Hours(1)));
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          placeholder_root));
  tls.watch_root_certs();
  tls.set_verify_server_certs(false);
  tls.set_check_call_host(false);
  tls.set_certificate_verifier(
      std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return v1::Enrollment::NewStub(
      grpc::CreateChannel(target, grpc::experimental::TlsCredentials(tls)));
}

// TLS verified against `ca_pem` and the host name; with a client
// certificate when `cert_pem` is given.
std::unique_ptr<Stub> VerifiedStub(const std::string& target,
                                   const std::string& ca_pem,
                                   const std::string& key_pem = "",
                                   const std::string& cert_pem = "") {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca_pem;
  tls.pem_private_key = key_pem;
  tls.pem_cert_chain = cert_pem;
  return v1::Enrollment::NewStub(
      grpc::CreateChannel(target, grpc::SslCredentials(tls)));
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration deadline) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
}

// Adds what the caller was doing to a failed call's message.
absl::Status CallError(const grpc::Status& status, absl::string_view what,
                       const std::string& target) {
  absl::Status st = FromGrpcStatus(status);
  return absl::Status(st.code(),
                      absl::StrCat(what, " at ", target, ": ", st.message()));
}

// Step 1 and 2: the coordinator's CA, if it is the one the token pins.
absl::StatusOr<std::string> FetchPinnedCa(const std::string& target,
                                          const JoinToken& token,
                                          absl::Duration deadline) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, deadline);
  v1::GetCaResponse response;
  ASSIGN_OR_RETURN(std::unique_ptr<Stub> stub, UnverifiedStub(target));
  grpc::Status st = stub->GetCa(&ctx, v1::GetCaRequest(), &response);
  if (!st.ok()) {
    return CallError(st, "cannot fetch the CA certificate of the coordinator",
                     target);
  }
  ASSIGN_OR_RETURN(std::string fingerprint,
                   CertificateFingerprint(response.ca_pem()));
  if (fingerprint != token.ca_fingerprint) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the coordinator at ", target, " has CA fingerprint ", fingerprint,
        " but the join token pins ", token.ca_fingerprint,
        ": it is not the coordinator the token was made for (or something "
        "in between is impersonating it); nothing was sent"));
  }
  return response.ca_pem();
}

// Writes the identity files named by `config` and the config itself to
// <dir>/config; the key first, 0600.
absl::StatusOr<ClientConfig> StoreIdentity(const std::string& dir,
                                           const ClientConfig& config,
                                           const std::string& key_pem,
                                           const v1::EnrollResponse& issued) {
  RETURN_IF_ERROR(WriteKeyFile(config.tls.key, key_pem));
  RETURN_IF_ERROR(WriteFileWithMode(config.tls.cert, issued.cert_pem(), 0644));
  RETURN_IF_ERROR(WriteFileWithMode(config.tls.ca, issued.ca_pem(), 0644));
  RETURN_IF_ERROR(WriteClientConfig(dir, config));
  return config;
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    return "unknown";
  }
  return host;
}

}  // namespace

absl::StatusOr<ClientConfig> Enroll(const EnrollOptions& options) {
  ASSIGN_OR_RETURN(JoinToken token, ParseJoinToken(options.join_token));
  ASSIGN_OR_RETURN(std::string ca_pem,
                   FetchPinnedCa(options.coordinator, token, options.deadline));
  RETURN_IF_ERROR(MakeDirs(options.dir, 0700, "identity directory"));
  ASSIGN_OR_RETURN(std::string key_pem, NewPrivateKeyPem());
  const std::string name = options.name.empty() ? HostName() : options.name;
  v1::JoinRequest request;
  request.set_token_id(token.id);
  request.set_secret(token.secret);
  request.set_name(name);
  request.set_role(options.role);
  ASSIGN_OR_RETURN(*request.mutable_csr_pem(), NewCsrPem(key_pem, name));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options.deadline);
  v1::EnrollResponse response;
  grpc::Status st =
      VerifiedStub(options.coordinator, ca_pem)->Join(&ctx, request, &response);
  if (!st.ok()) return CallError(st, "joining", options.coordinator);
  if (response.ca_pem() != ca_pem) {
    return absl::UnauthenticatedError(
        "the coordinator answered with another CA than the pinned one");
  }
  return StoreIdentity(
      options.dir,
      ClientConfig{options.coordinator, IdentityFiles(options.dir)}, key_pem,
      response);
}

absl::StatusOr<bool> RenewIfDue(const ClientConfig& config, absl::Time now,
                                absl::Duration deadline) {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(config.tls.cert));
  ASSIGN_OR_RETURN(CertInfo info, InspectCertificate(cert_pem));
  if (info.not_after - now > (info.not_after - info.not_before) / 3) {
    return false;
  }
  ASSIGN_OR_RETURN(std::string key_pem, ReadKeyFile(config.tls.key));
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(config.tls.ca));
  ASSIGN_OR_RETURN(std::string new_key, NewPrivateKeyPem());
  v1::RenewRequest request;
  ASSIGN_OR_RETURN(*request.mutable_csr_pem(),
                   NewCsrPem(new_key, info.common_name));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, deadline);
  v1::EnrollResponse response;
  grpc::Status st = VerifiedStub(config.coordinator, ca_pem, key_pem, cert_pem)
                        ->Renew(&ctx, request, &response);
  if (!st.ok()) {
    return CallError(st, "renewing the certificate", config.coordinator);
  }
  const std::string dir = config.tls.cert.substr(0, config.tls.cert.rfind('/'));
  RETURN_IF_ERROR(StoreIdentity(dir, config, new_key, response).status());
  return true;
}

absl::Status ApplyLogin(bool coordinator_given, ClientOptions* options) {
  ASSIGN_OR_RETURN(std::optional<ClientConfig> config,
                   ReadClientConfig(ClientIdentityDir()));
  if (!ApplyConfig(config, coordinator_given, &options->coordinator,
                   &options->tls)) {
    return absl::OkStatus();
  }
  absl::StatusOr<bool> renewed =
      RenewIfDue(*config, absl::Now(), options->deadline);
  if (!renewed.ok()) {
    std::cerr << "shardex: warning: " << renewed.status().message() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace shardex
