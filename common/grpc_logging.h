// Routes gRPC's own log lines (gpr_log: handshake failures, connectivity
// changes) into glog, so they follow `--log-level` like ours instead of
// going raw to stderr. gRPC reports every failure it logs to us as a call's
// status as well, which we explain (client/client.cc, common/tls_diagnosis.h);
// its lines are therefore detail for debugging: shown (as INFO, prefixed
// "grpc:") only when `verbose`, dropped otherwise.
//
// Thread-safety: call once, early in main, before any channel or server
// exists; the installed log function is safe on any gRPC thread.
#ifndef SHARDEX_COMMON_GRPC_LOGGING_H_
#define SHARDEX_COMMON_GRPC_LOGGING_H_

namespace shardex {

void RouteGrpcLogsToGlog(bool verbose);

}  // namespace shardex

#endif  // SHARDEX_COMMON_GRPC_LOGGING_H_
