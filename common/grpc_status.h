// Conversions between absl::Status and grpc::Status. Their codes map one to
// one; these are used only at the gRPC edges (coordinator/service.cc,
// coordinator/worker_gateway.cc, worker/session.cc, client/client.cc).
//
// Thread-safety: pure functions.
#ifndef SHARDEX_COMMON_GRPC_STATUS_H_
#define SHARDEX_COMMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace shardex {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

}  // namespace shardex

#endif  // SHARDEX_COMMON_GRPC_STATUS_H_
