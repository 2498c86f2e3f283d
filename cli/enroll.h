// The joining side of the built-in PKI (coordinator/enrollment.h):
// `shardex login --join` and `shardex worker --join` enrol with a join
// token, and both renew their certificate before it expires.
//
// Enrol:
//   1. GetCa over TLS *without* verifying the server (there is nothing to
//      verify it against yet); nothing secret is sent on this connection.
//   2. SHA-256 of the CA certificate must equal the token's fingerprint,
//      else UNAUTHENTICATED naming both (no trust on first use).
//   3. A fresh EC P-256 key is made here and written 0600; only a CSR
//      leaves the machine.
//   4. Join over TLS verified against the pinned CA (and the host name).
//   5. key.pem, cert.pem, ca.pem and config go to the identity directory
//      (cli/client_config.h).
//
// Thread-safety: functions are safe from any thread; two renewals of the
// same directory at once are not (one process owns a directory).
#ifndef SHARDEX_CLI_ENROLL_H_
#define SHARDEX_CLI_ENROLL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/client_config.h"
#include "client/client.h"

namespace shardex {

struct EnrollOptions {
  std::string coordinator;  // host:port
  std::string join_token;   // SHDXJ1-...
  std::string role;         // "worker" or "client"
  std::string name;         // the certificate's CN (default: host name)
  std::string dir;          // identity directory, created 0700
  absl::Duration deadline = absl::Seconds(10);  // per call
};

absl::StatusOr<ClientConfig> Enroll(const EnrollOptions& options);

// Renews the certificate in `config` when less than a third of its life is
// left at `now` (a fresh key, a CSR, Renew over mutual TLS), rewriting the
// files in place. Returns whether it did.
absl::StatusOr<bool> RenewIfDue(const ClientConfig& config, absl::Time now,
                                absl::Duration deadline);

// For a CLI command after parsing: applies `shardex login`'s config
// (ApplyConfig) to `*options` and renews its certificate when due. A failed
// renewal is only a warning while the current certificate lasts.
absl::Status ApplyLogin(bool coordinator_given, ClientOptions* options);

}  // namespace shardex

#endif  // SHARDEX_CLI_ENROLL_H_
