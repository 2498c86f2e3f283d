// RunCommandShard: runs one shard of a command job in a child process (the
// worker's process pool calls it on one of its --processes threads) and
// turns the outcome into the shard's payload or a clear error, plus the
// child's exit code when it exited on its own.
//
// The child gets the allow-listed environment plus SHARDEX_* variables, an
// empty private working directory (then holding the shard's links), its
// input on stdin (the shard's line-aligned slice of a --lines file), and
// the job's limits. The dir comes from `work_dirs` when given (a worker's
// WorkDirPool, which recycles empty dirs and removes the others on its own
// threads), else it is made fresh under `scratch_root` and removed before
// this returns.
//
// Thread-safety: safe to call concurrently.
#ifndef SHARDEX_WORKER_COMMAND_RUNNER_H_
#define SHARDEX_WORKER_COMMAND_RUNNER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/process_runner.h"
#include "common/work_dir_source.h"
#include "kernels/shard_runner.h"
#include "proto/shardex.pb.h"

namespace shardex {

struct CommandShard {
  uint64_t job_id = 0;
  const shardex::v1::CommandSpec* spec = nullptr;
  uint64_t shards = 0;  // the job's shard count
  shardex::v1::ShardTask task;
  // The file to run for the spec's argv[0], found once for the job
  // (FindProgramAnywhere); empty: found on every run. Must outlive the call.
  absl::string_view program;
  // Made in the shard's working directory before the child starts (the
  // job's --upload files, worker/staging.h).
  std::vector<ProcessSpec::Link> links;
};

struct CommandShardOutcome {
  // The file the child wrote at {output} when it did, else its stdout.
  // Errors name the cause: not found, exit code or signal (with the stderr
  // tail), timeout, a resource limit, the output cap, or CANCELLED.
  absl::StatusOr<std::string> payload;
  // The child's exit status when it exited by itself (0 on success); unset
  // when it was signalled or killed (timeout, output cap, cancel) or never
  // started.
  std::optional<int> exit_code;
};

// Blocks until the child has been reaped and its process group killed:
// setting `cancel` ends it at once when `cancel_fd` becomes readable with
// it (ShardControl::WakeFd), else within about 20 ms, and no process of
// the group is left behind when this returns (see
// common/process_runner.h). The work dir has been given back to
// `work_dirs`, or removed, by then.
CommandShardOutcome RunCommandShard(const CommandShard& shard,
                                    const std::string& scratch_root,
                                    const CancelFlag& cancel,
                                    WorkDirSource* work_dirs = nullptr,
                                    int cancel_fd = -1);

}  // namespace shardex

#endif  // SHARDEX_WORKER_COMMAND_RUNNER_H_
