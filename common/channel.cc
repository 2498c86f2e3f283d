#include "common/channel.h"

#include "absl/strings/str_cat.h"
#include "common/token.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace shardex {

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateCoordinatorChannel(
    const ChannelOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  // Bulk streams (blocks of the file store, 1 MiB messages) need a flow
  // control window larger than gRPC's 64 KiB start, or each message waits
  // for window updates: 80 MB/s instead of several hundred over loopback.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  if (options.keepalive_interval > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                absl::ToInt64Milliseconds(options.keepalive_interval));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                absl::ToInt64Milliseconds(options.keepalive_timeout));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // A watch stream only receives; by default gRPC stops pinging after two
    // pings without sending data, which would leave it blind again.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  return grpc::CreateCustomChannel(options.target, *credentials, args);
}

void AddTokenMetadata(const std::string& token, grpc::ClientContext* ctx) {
  if (token.empty()) return;
  ctx->AddMetadata(kTokenMetadataKey, absl::StrCat(kTokenMetadataPrefix, token));
}

}  // namespace shardex
