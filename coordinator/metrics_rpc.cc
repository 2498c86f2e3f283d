#include "coordinator/metrics_rpc.h"

#include "grpcpp/support/interceptor.h"

namespace shardex {
namespace {

constexpr const char* kCodeNames[RpcErrorCounts::kCodes] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// Looks at the status each call sends, and lets everything through.
class ErrorInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ErrorInterceptor(RpcErrorCounts* counts) : counts_(counts) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      counts_->Count(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  RpcErrorCounts* const counts_;
};

class ErrorInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ErrorInterceptorFactory(RpcErrorCounts* counts) : counts_(counts) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new ErrorInterceptor(counts_);  // gRPC owns it
  }

 private:
  RpcErrorCounts* const counts_;
};

}  // namespace

void RpcErrorCounts::Count(int code) {
  if (code <= 0 || code >= kCodes) return;  // OK, or not a code
  counts_[code].fetch_add(1, std::memory_order_relaxed);
}

std::vector<MetricSample> RpcErrorCounts::Samples() const {
  std::vector<MetricSample> out;
  for (int code = 1; code < kCodes; ++code) {
    out.push_back(MetricSample{
        {{"code", kCodeNames[code]}},
        static_cast<double>(counts_[code].load(std::memory_order_relaxed))});
  }
  return out;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcErrorCounts::InterceptorFactory() {
  return std::make_unique<ErrorInterceptorFactory>(this);
}

}  // namespace shardex
