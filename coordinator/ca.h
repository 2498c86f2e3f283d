// CertificateAuthority: the coordinator's built-in CA. On first start it
// makes, in <state-dir>/pki/,
//
//   ca.key       EC P-256 private key                      0600
//   ca.crt       self-signed CA certificate (10 years)      0644
//   server.key   the coordinator's TLS key                  0600
//   server.crt   its certificate, signed by ca.crt (90 d)   0644
//   registry.db  every certificate issued; revocations      0600
//
// and later starts load them. The server certificate names every address
// in CaOptions::advertise; it is re-issued (with a fresh key) when a third
// of its life is left or when the advertised names change. Sign issues
// short-lived worker and client certificates for CSRs (the caller has
// already checked the requester's right to one, e.g. a join token).
//
// The CA's fingerprint (SHA-256 of ca.crt's DER) is what join tokens pin,
// so ca.crt and ca.key must never be replaced while tokens or certificates
// are in use; see docs/security.md for rotation.
//
// Thread-safety: safe to use from any thread. The key material is constant
// after Open; the server certificate's files are rewritten atomically (a
// reader sees the old or the new pair); the registry has its own lock.
#ifndef SHARDEX_COORDINATOR_CA_H_
#define SHARDEX_COORDINATOR_CA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/pki.h"
#include "coordinator/cert_registry.h"

namespace shardex {

struct CaOptions {
  // Usually <state-dir>/pki; created 0700 if missing.
  std::string dir;
  // Host names and IP addresses the coordinator is reached by; the server
  // certificate names all of them. See DefaultAdvertisedNames.
  std::vector<std::string> advertise;
  absl::Duration ca_validity = absl::Hours(24 * 3650);
  absl::Duration server_validity = absl::Hours(24 * 90);
  // Lifetime of the worker and client certificates Sign issues.
  absl::Duration issued_validity = absl::Hours(24);
};

// The names a coordinator listening on `listen` (host:port) is reached by
// when --advertise is not given: the listen host unless it is a wildcard
// (0.0.0.0, ::), this machine's host name, and localhost, 127.0.0.1, ::1.
std::vector<std::string> DefaultAdvertisedNames(const std::string& listen);

class CertificateAuthority {
 public:
  // Loads the CA in options.dir, or creates it; then makes sure the server
  // certificate is current (RenewServerCertificateIfNeeded).
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Open(
      const CaOptions& options, Clock* clock);

  const std::string& ca_cert_pem() const { return ca_cert_pem_; }
  // SHA-256 of the CA certificate, 64 lower-case hex digits.
  const std::string& fingerprint() const { return fingerprint_; }
  std::string ca_cert_path() const;
  std::string server_cert_path() const;
  std::string server_key_path() const;

  // Re-issues the server certificate if it is missing, does not match its
  // key or the CA, has a third or less of its life left, or names other
  // hosts than options.advertise. Returns whether it did.
  absl::StatusOr<bool> RenewServerCertificateIfNeeded();

  // Issues a certificate with `role` (worker or client) for the key in
  // `csr_pem`, CN `name`, valid for options.issued_validity (from five
  // minutes ago, for clock skew), and records it in the registry.
  // INVALID_ARGUMENT for a bad CSR or a server role.
  absl::StatusOr<std::string> Sign(absl::string_view csr_pem, CertRole role,
                                   const std::string& name);

  CertRegistry* registry() { return registry_.get(); }
  absl::Time Now() const { return clock_->Now(); }

 private:
  CertificateAuthority(const CaOptions& options, Clock* clock,
                       std::string ca_key_pem, std::string ca_cert_pem,
                       std::string fingerprint,
                       std::unique_ptr<CertRegistry> registry);
  absl::StatusOr<bool> ServerCertificateIsCurrent() const;

  // Constant after construction.
  const CaOptions options_;
  Clock* const clock_;
  const std::string ca_key_pem_;
  const std::string ca_cert_pem_;
  const std::string fingerprint_;
  const std::unique_ptr<CertRegistry> registry_;

  // Serialises renewals of the server certificate's files.
  absl::Mutex renew_mu_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_CA_H_
