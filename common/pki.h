// X.509 building blocks for shardex's built-in certificate authority, on
// OpenSSL 3's EVP/X509 APIs: EC P-256 keys, a self-signed CA, certificates
// issued for a public key (server certificates naming hosts, client
// certificates carrying a role), CSRs, and the checks a peer runs on them.
//
// Everything here is pure: PEM text in, PEM text out, no files and no clock
// of its own (times are passed in), so coordinator/ca.cc owns the state and
// these functions stay testable with fixed times.
//
// A certificate's role (worker or client) is its subject's
// organizationalUnitName; the CA only ever issues one OU per certificate.
//
// Thread-safety: every function is safe to call from any thread.
#ifndef SHARDEX_COMMON_PKI_H_
#define SHARDEX_COMMON_PKI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shardex {

// A certificate's subject role. kServer certificates are only issued by the
// CA to its own coordinator; Join hands out kWorker and kClient.
enum class CertRole { kServer, kWorker, kClient };

// "server", "worker", "client".
absl::string_view CertRoleName(CertRole role);
// The inverse of CertRoleName; INVALID_ARGUMENT for anything else.
absl::StatusOr<CertRole> ParseCertRole(absl::string_view name);

// What to put in a certificate the CA issues.
struct CertProfile {
  std::string common_name;
  CertRole role = CertRole::kClient;
  // subjectAltNames (server certificates): host names and IP addresses.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Time not_before;
  absl::Time not_after;
};

// What a peer (or the CA's bookkeeping) learns from a certificate.
struct CertInfo {
  std::string serial_hex;  // upper-case hex, no leading zeros
  std::string common_name;
  std::string role;  // subject OU; "" if none
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // textual form
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
};

// A fresh EC P-256 private key as PKCS#8 PEM.
absl::StatusOr<std::string> NewPrivateKeyPem();

// A self-signed CA certificate for `key_pem` (basicConstraints CA:TRUE,
// keyCertSign), valid over [not_before, not_after].
absl::StatusOr<std::string> SelfSignedCaPem(absl::string_view key_pem,
                                            absl::string_view common_name,
                                            absl::Time not_before,
                                            absl::Time not_after);

// A certificate for `public_key_pem` (SubjectPublicKeyInfo PEM) signed by
// the CA, with a fresh random serial: extendedKeyUsage serverAuth for
// kServer, clientAuth otherwise.
absl::StatusOr<std::string> IssueCertificatePem(
    absl::string_view ca_cert_pem, absl::string_view ca_key_pem,
    absl::string_view public_key_pem, const CertProfile& profile);

// The public half of a private key, as SubjectPublicKeyInfo PEM.
absl::StatusOr<std::string> PublicKeyPem(absl::string_view key_pem);

// A certificate signing request for `key_pem` with subject CN=common_name.
absl::StatusOr<std::string> NewCsrPem(absl::string_view key_pem,
                                      absl::string_view common_name);

// The public key of a CSR whose self-signature verifies; INVALID_ARGUMENT
// for a malformed CSR or a bad signature (the requester must hold the key).
absl::StatusOr<std::string> CsrPublicKeyPem(absl::string_view csr_pem);

// Parses the first certificate in `cert_pem`.
absl::StatusOr<CertInfo> InspectCertificate(absl::string_view cert_pem);

// SHA-256 of the first certificate's DER encoding, as 64 lower-case hex
// digits: the CA fingerprint a join token pins.
absl::StatusOr<std::string> CertificateFingerprint(absl::string_view cert_pem);

// Verifies that `cert_pem` chains to `ca_pem` and is valid at `at`;
// UNAUTHENTICATED naming OpenSSL's reason otherwise.
absl::Status VerifyCertificate(absl::string_view ca_pem,
                               absl::string_view cert_pem, absl::Time at);

// Whether the private key `key_pem` is the one certified by `cert_pem`.
bool KeyMatchesCertificate(absl::string_view key_pem,
                           absl::string_view cert_pem);

}  // namespace shardex

#endif  // SHARDEX_COMMON_PKI_H_
