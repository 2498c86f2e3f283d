#include "coordinator/auth.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/token.h"
#include "grpc/grpc_security_constants.h"

namespace shardex {

std::string PeerCertificatePem(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr) return "";
  for (const grpc::string_ref& pem :
       auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
    return std::string(pem.data(), pem.size());
  }
  return "";
}

absl::Status Authenticator::Check(const grpc::ServerContextBase& ctx) const {
  if (registry_ != nullptr) {
    const std::string cert = PeerCertificatePem(ctx);
    if (!cert.empty()) {
      bool wrong_role = false;
      absl::Status by_cert = CheckCertificate(cert, &wrong_role);
      // A certificate for the other role may still come with the token; a
      // revoked one is refused, token or not.
      if (wrong_role && CheckToken(ctx).ok()) return absl::OkStatus();
      return by_cert;
    }
  }
  return CheckToken(ctx);
}

absl::Status Authenticator::CheckCertificate(const std::string& cert_pem,
                                             bool* wrong_role) const {
  absl::StatusOr<CertInfo> info = InspectCertificate(cert_pem);
  if (!info.ok()) {
    return absl::UnauthenticatedError("the client certificate cannot be read");
  }
  absl::StatusOr<bool> revoked = registry_->IsRevoked(info->serial_hex);
  if (!revoked.ok()) return revoked.status();
  if (*revoked) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate ", info->serial_hex, " (", info->common_name,
        ") was revoked on the coordinator; enrol again with a new join "
        "token (shardex token create)"));
  }
  if (info->role != CertRoleName(role_)) {
    *wrong_role = true;
    return absl::UnauthenticatedError(absl::StrCat(
        "this service needs a ", CertRoleName(role_),
        " certificate (or the token); the presented certificate is for role \"",
        info->role, "\""));
  }
  return absl::OkStatus();
}

absl::Status Authenticator::CheckToken(
    const grpc::ServerContextBase& ctx) const {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find(kTokenMetadataKey);
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this coordinator needs a token and the call carried none");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kTokenMetadataPrefix) ||
      !TokensEqual(value.substr(sizeof(kTokenMetadataPrefix) - 1), token_)) {
    return absl::UnauthenticatedError(
        "the call's token does not match this coordinator's");
  }
  return absl::OkStatus();
}

}  // namespace shardex
