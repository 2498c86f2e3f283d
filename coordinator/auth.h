// Authenticator: the one place every coordinator RPC (client or worker)
// checks its caller. A call is let in when it carries
//
//   * the coordinator's token ("authorization: Bearer <token>" metadata), or
//   * with the built-in CA (coordinator/ca.h), a client certificate from
//     that CA (TLS has already verified the chain) whose role (subject OU)
//     is the one this service needs — "client" for Coordinator, "worker"
//     for WorkerGateway — and whose serial is not revoked. The registry is
//     read on every call, so `shardex cert revoke` takes effect at the next
//     call or reconnection.
//
// Handlers call Check first and answer UNAUTHENTICATED when it fails (no
// or wrong token, a revoked certificate, or one for the other role without
// the token), so workers and the CLI stop with the reason instead of
// retrying. The message never contains the token. Health checking, reflection
// and the Enrollment service do not use it.
//
// Thread-safety: immutable after construction; Check is safe from any
// thread (CertRegistry has its own lock).
#ifndef SHARDEX_COORDINATOR_AUTH_H_
#define SHARDEX_COORDINATOR_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "common/pki.h"
#include "coordinator/cert_registry.h"
#include "grpcpp/server_context.h"

namespace shardex {

// The PEM of the certificate the TLS peer presented (and TLS verified), or
// "" when it presented none.
std::string PeerCertificatePem(const grpc::ServerContextBase& ctx);

class Authenticator {
 public:
  // Token only.
  explicit Authenticator(std::string token) : token_(std::move(token)) {}
  // The token, or a certificate with `role` that `registry` (not owned,
  // outlives this) has not revoked.
  Authenticator(std::string token, CertRole role, CertRegistry* registry)
      : token_(std::move(token)), role_(role), registry_(registry) {}

  absl::Status Check(const grpc::ServerContextBase& ctx) const;

 private:
  absl::Status CheckToken(const grpc::ServerContextBase& ctx) const;
  // OK if `cert_pem` has the right role and is not revoked; sets
  // `*wrong_role` when the role is all that is wrong.
  absl::Status CheckCertificate(const std::string& cert_pem,
                                bool* wrong_role) const;

  const std::string token_;
  const CertRole role_ = CertRole::kClient;
  CertRegistry* const registry_ = nullptr;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_AUTH_H_
