// TLS credentials for the coordinator's server and for the channels of
// workers and clients, from PEM files; and the rule for when a listening
// address needs them.
//
// Server: --tls-cert and --tls-key turn TLS on; --tls-ca then also requires
// every client (workers and the CLI) to present a certificate signed by that
// CA (mutual TLS). Client: --tls-ca (the CA that signed the coordinator's
// certificate; without it the system's roots) turns TLS on, and
// --tls-cert/--tls-key present a client certificate.
//
// Thread-safety: the functions are safe to call from any thread.
#ifndef SHARDEX_COMMON_TLS_H_
#define SHARDEX_COMMON_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace shardex {

struct TlsFiles {
  std::string cert;  // PEM certificate chain
  std::string key;   // PEM private key
  std::string ca;    // PEM CA bundle

  bool any() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

// Insecure credentials when `tls` names no file; INVALID_ARGUMENT if only
// one of cert and key is given (or, on the server, a CA without a
// certificate); NOT_FOUND/… if a file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsFiles& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsFiles& tls);

// Whether "host:port" names a loopback host: 127.0.0.0/8, [::1] or
// localhost. Anything else (0.0.0.0, [::], a name, a LAN address) is not.
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace shardex

#endif  // SHARDEX_COMMON_TLS_H_
