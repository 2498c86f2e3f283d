// The client side of a connection to the coordinator, shared by the worker
// (worker/session.cc) and the client library (client/client.cc): a channel
// with the right credentials and limits, and the access token on a call.
//
// Thread-safety: the functions are safe to call from any thread.
#ifndef SHARDEX_COMMON_CHANNEL_H_
#define SHARDEX_COMMON_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace shardex {

// HTTP/2 flow-control window per stream on every channel and on the
// coordinator's server (bulk transfers of the file store, docs/staging.md).
inline constexpr int kStreamWindowBytes = 8 << 20;

struct ChannelOptions {
  std::string target;  // host:port
  TlsFiles tls;        // none: plaintext
  int max_message_bytes = 64 << 20;  // both directions
  // HTTP/2 keepalive: a ping every `keepalive_interval`, with or without
  // calls and however long a stream has only received, so a half-open
  // connection (the peer's host or the path to it gone, no FIN or RST) is
  // noticed within interval + timeout and its calls fail UNAVAILABLE
  // instead of hanging. The coordinator accepts pings this often
  // (coordinator/server.cc). Zero: none.
  absl::Duration keepalive_interval = absl::Seconds(5);
  absl::Duration keepalive_timeout = absl::Seconds(5);
};

// The error of ChannelCredentialsFor (common/tls.h) when a TLS file is bad
// or missing (the channel itself connects lazily and never fails here).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateCoordinatorChannel(
    const ChannelOptions& options);

// Adds "authorization: Bearer <token>" (common/token.h) to `ctx`; nothing
// for an empty token.
void AddTokenMetadata(const std::string& token, grpc::ClientContext* ctx);

}  // namespace shardex

#endif  // SHARDEX_COMMON_CHANNEL_H_
