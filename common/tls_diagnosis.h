// Names a TLS mistake after a connection to the coordinator failed. gRPC
// reports every such mistake as "failed to connect" (UNAVAILABLE), the same
// as a coordinator that is down; DiagnoseTls probes the address itself with
// OpenSSL (a TCP connect and a handshake with the same CA, certificate and
// key the channel used) and says which mistake it is and which flag or file
// fixes it:
//   - a plaintext client against a TLS coordinator, or a TLS client
//     against a plaintext one;
//   - a coordinator certificate the given CA did not sign, or one that has
//     expired;
//   - a coordinator certificate whose names do not include the address
//     dialled;
//   - no client certificate, an expired one, or one the coordinator
//     rejects, when the coordinator requires one (mutual TLS).
// Nobody listening, a timeout, or a handshake that works are not TLS
// mistakes: those come back OK, and the caller keeps its own error.
//
// Thread-safety: safe to call from any thread; each call opens and closes
// its own socket. It blocks for up to about two `timeout`s.
#ifndef SHARDEX_COMMON_TLS_DIAGNOSIS_H_
#define SHARDEX_COMMON_TLS_DIAGNOSIS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/tls.h"

namespace shardex {

// FAILED_PRECONDITION with the explanation when `tls` (the client's files;
// none: plaintext) cannot work with the server at `address` (host:port);
// OK when the probe finds no TLS mistake. A TLS mistake never heals by
// retrying: callers stop.
absl::Status DiagnoseTls(const std::string& address, const TlsFiles& tls,
                         absl::Duration timeout = absl::Seconds(3));

// Whether `status` is an error of DiagnoseTls.
bool IsTlsMistake(const absl::Status& status);

}  // namespace shardex

#endif  // SHARDEX_COMMON_TLS_DIAGNOSIS_H_
