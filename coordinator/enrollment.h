// Enrollment: how a new worker or user gets a certificate from the
// coordinator's built-in CA (docs/protocol.md, "Enrollment").
//
//   GetCa   public: the CA certificate. The joiner fetches it over an
//           unverified TLS connection and trusts it only if its SHA-256 is
//           the fingerprint in its join token.
//   Join    a join token's id and secret + a CSR -> a certificate with the
//           token's role (worker or client), over TLS verified against
//           that CA.
//   Renew   the caller's current certificate (mutual TLS) + a CSR for a
//           fresh key -> a new certificate with the same role and name.
//
// Enroller is the logic, plain C++ and testable without sockets;
// EnrollmentService is the gRPC edge. Signing an EC P-256 certificate and
// one SQLite update take well under a millisecond or two, so they run on
// the gRPC thread.
//
// Thread-safety: both are safe from any thread (their parts have locks).
#ifndef SHARDEX_COORDINATOR_ENROLLMENT_H_
#define SHARDEX_COORDINATOR_ENROLLMENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "coordinator/ca.h"
#include "coordinator/join_tokens.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class Enroller {
 public:
  // Neither is owned; both outlive the Enroller.
  Enroller(CertificateAuthority* ca, JoinTokenStore* tokens)
      : ca_(ca), tokens_(tokens) {}

  v1::GetCaResponse GetCa() const;
  absl::StatusOr<v1::EnrollResponse> Join(const v1::JoinRequest& request);
  // `peer_cert_pem`: the certificate the caller presented (verified by
  // TLS against the CA), "" if none.
  absl::StatusOr<v1::EnrollResponse> Renew(const std::string& peer_cert_pem,
                                           const v1::RenewRequest& request);

 private:
  absl::StatusOr<v1::EnrollResponse> Issue(const std::string& csr_pem,
                                           CertRole role,
                                           const std::string& name);

  CertificateAuthority* const ca_;
  JoinTokenStore* const tokens_;
};

class EnrollmentService final : public v1::Enrollment::CallbackService {
 public:
  explicit EnrollmentService(Enroller* enroller) : enroller_(enroller) {}

  grpc::ServerUnaryReactor* GetCa(grpc::CallbackServerContext* ctx,
                                  const v1::GetCaRequest* request,
                                  v1::GetCaResponse* response) override;
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* ctx,
                                 const v1::JoinRequest* request,
                                 v1::EnrollResponse* response) override;
  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* ctx,
                                  const v1::RenewRequest* request,
                                  v1::EnrollResponse* response) override;

 private:
  Enroller* const enroller_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_ENROLLMENT_H_
