// How an error leaves the coordinator's services: messages may echo what a
// client sent, and gRPC carries them in trailers a client accepts only up
// to a few KiB, so long ones are cut (to kMaxEdgeMessageBytes and "...").
//
// Thread-safety: stateless functions.
#ifndef SHARDEX_COORDINATOR_EDGE_STATUS_H_
#define SHARDEX_COORDINATOR_EDGE_STATUS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace shardex {

inline constexpr size_t kMaxEdgeMessageBytes = 1024;

inline grpc::Status EdgeStatus(const absl::Status& status) {
  if (status.message().size() <= kMaxEdgeMessageBytes) {
    return ToGrpcStatus(status);
  }
  return ToGrpcStatus(absl::Status(
      status.code(),
      absl::StrCat(status.message().substr(0, kMaxEdgeMessageBytes), "...")));
}

// Finishes a unary callback call with `status`.
inline grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(EdgeStatus(status));
  return reactor;
}

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_EDGE_STATUS_H_
