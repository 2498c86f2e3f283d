#include "common/grpc_logging.h"

#include "glog/logging.h"
#include "grpc/support/log.h"

namespace shardex {

namespace {

void ToGlog(gpr_log_func_args* args) {
  LOG(INFO) << "grpc: " << args->file << ":" << args->line << "] "
            << args->message;
}

void Drop(gpr_log_func_args*) {}

}  // namespace

void RouteGrpcLogsToGlog(bool verbose) {
  gpr_set_log_verbosity(verbose ? GPR_LOG_SEVERITY_DEBUG
                                : GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(verbose ? ToGlog : Drop);
}

}  // namespace shardex
