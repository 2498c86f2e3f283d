// RunCommandShard: runs one shard of a command job in a child process (the
// worker's process pool calls it on one of its --processes threads) and
// turns the outcome into the shard's payload or a clear error.
//
// The child gets the allow-listed environment plus SHARDEX_* variables, a
// fresh working directory under `scratch_root`, its input on stdin (the
// shard's line-aligned slice of a --lines file), and the job's limits.
//
// Thread-safety: safe to call concurrently.
#ifndef SHARDEX_WORKER_COMMAND_RUNNER_H_
#define SHARDEX_WORKER_COMMAND_RUNNER_H_

#include <string>

#include "absl/status/statusor.h"
#include "kernels/kernel.h"
#include "proto/shardex.pb.h"

namespace shardex {

struct CommandShard {
  uint64_t job_id = 0;
  const shardex::v1::CommandSpec* spec = nullptr;
  uint64_t shards = 0;  // the job's shard count
  shardex::v1::ShardTask task;
};

// The payload is the file the child wrote at {output} when it did, else its
// stdout. Errors name the cause: not found, exit code or signal (with the
// stderr tail), timeout, a resource limit, or the output cap.
absl::StatusOr<std::string> RunCommandShard(const CommandShard& shard,
                                            const std::string& scratch_root,
                                            const CancelFlag& cancel);

}  // namespace shardex

#endif  // SHARDEX_WORKER_COMMAND_RUNNER_H_
