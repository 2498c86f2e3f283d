// RPC errors by status code for /metrics: a gRPC server interceptor that
// counts every call of the coordinator's gRPC port that ends with a status
// other than OK (at the service edge, whatever service or handler), by
// code. 16 codes at most: a bounded label.
//
// Thread-safety: the counters are atomics; any thread.
#ifndef SHARDEX_COORDINATOR_METRICS_RPC_H_
#define SHARDEX_COORDINATOR_METRICS_RPC_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "coordinator/metrics_text.h"
#include "grpcpp/support/server_interceptor.h"

namespace shardex {

class RpcErrorCounts {
 public:
  static constexpr int kCodes = 17;  // grpc::StatusCode 0..16

  void Count(int code);
  // One sample per non-OK code, 0 included, labelled code="UNAVAILABLE"...
  std::vector<MetricSample> Samples() const;
  // A factory for ServerBuilder::experimental().SetInterceptorCreators;
  // `this` must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

 private:
  std::array<std::atomic<uint64_t>, kCodes> counts_{};
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_METRICS_RPC_H_
