#include "coordinator/enrollment.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/join_token.h"
#include "common/status_macros.h"
#include "coordinator/auth.h"
#include "glog/logging.h"

namespace shardex {

namespace {

constexpr size_t kMaxCsrBytes = 16 << 10;
constexpr size_t kMaxNameBytes = 128;

// A certificate's common name: 1-128 printable characters.
absl::Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError("name: 1 to 128 characters");
  }
  for (char c : name) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("name: printable characters only");
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                               const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

v1::GetCaResponse Enroller::GetCa() const {
  v1::GetCaResponse response;
  response.set_ca_pem(ca_->ca_cert_pem());
  return response;
}

absl::StatusOr<v1::EnrollResponse> Enroller::Join(
    const v1::JoinRequest& request) {
  RETURN_IF_ERROR(CheckName(request.name()));
  if (request.csr_pem().size() > kMaxCsrBytes) {
    return absl::InvalidArgumentError("csr_pem: too large");
  }
  // A bad CSR must not use up a one-use token: check it first.
  RETURN_IF_ERROR(CsrPublicKeyPem(request.csr_pem()).status());
  JoinToken token{ca_->fingerprint(), request.token_id(), request.secret()};
  ASSIGN_OR_RETURN(CertRole role,
                   tokens_->Redeem(token, request.role(), ca_->Now()));
  absl::StatusOr<v1::EnrollResponse> response =
      Issue(request.csr_pem(), role, request.name());
  if (response.ok()) {
    LOG(INFO) << "enrolled " << CertRoleName(role) << " \"" << request.name()
              << "\" with join token " << token.id;
  }
  return response;
}

absl::StatusOr<v1::EnrollResponse> Enroller::Renew(
    const std::string& peer_cert_pem, const v1::RenewRequest& request) {
  if (peer_cert_pem.empty()) {
    return absl::UnauthenticatedError(
        "Renew needs the current certificate (mutual TLS); enrol with a "
        "join token instead");
  }
  ASSIGN_OR_RETURN(CertInfo info, InspectCertificate(peer_cert_pem));
  ASSIGN_OR_RETURN(bool revoked, ca_->registry()->IsRevoked(info.serial_hex));
  if (revoked) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate ", info.serial_hex,
                     " was revoked; enrol again with a new join token"));
  }
  absl::StatusOr<CertRole> role = ParseCertRole(info.role);
  if (!role.ok() || *role == CertRole::kServer) {
    return absl::PermissionDeniedError(
        "only worker and client certificates are renewed");
  }
  if (request.csr_pem().size() > kMaxCsrBytes) {
    return absl::InvalidArgumentError("csr_pem: too large");
  }
  return Issue(request.csr_pem(), *role, info.common_name);
}

absl::StatusOr<v1::EnrollResponse> Enroller::Issue(const std::string& csr_pem,
                                                   CertRole role,
                                                   const std::string& name) {
  ASSIGN_OR_RETURN(std::string cert, ca_->Sign(csr_pem, role, name));
  v1::EnrollResponse response;
  response.set_cert_pem(std::move(cert));
  response.set_ca_pem(ca_->ca_cert_pem());
  response.set_role(std::string(CertRoleName(role)));
  return response;
}

grpc::ServerUnaryReactor* EnrollmentService::GetCa(
    grpc::CallbackServerContext* ctx, const v1::GetCaRequest*,
    v1::GetCaResponse* response) {
  *response = enroller_->GetCa();
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* EnrollmentService::Join(
    grpc::CallbackServerContext* ctx, const v1::JoinRequest* request,
    v1::EnrollResponse* response) {
  absl::StatusOr<v1::EnrollResponse> joined = enroller_->Join(*request);
  if (joined.ok()) *response = *std::move(joined);
  return Done(ctx, joined.status());
}

grpc::ServerUnaryReactor* EnrollmentService::Renew(
    grpc::CallbackServerContext* ctx, const v1::RenewRequest* request,
    v1::EnrollResponse* response) {
  absl::StatusOr<v1::EnrollResponse> renewed =
      enroller_->Renew(PeerCertificatePem(*ctx), *request);
  if (renewed.ok()) *response = *std::move(renewed);
  return Done(ctx, renewed.status());
}

}  // namespace shardex
