// Command jobs on the coordinator: CreateCommandJob validates a CommandSpec,
// names its domain (a --range, one shard per --inputs file, the bytes of a
// --lines file, or just --shards N tasks) and reduces the shards' outputs
// (concat, sum, sort, or a --reduce-command run here). A command job has
// only the coordinator's side of a kernel (KernelJob): its shards run on
// workers through worker/command_runner, with the placeholders of
// command/placeholders.h.
//
// Thread-safety: the returned job is immutable and safe to use from many
// threads at once.
#ifndef SHARDEX_COMMAND_COMMAND_JOB_H_
#define SHARDEX_COMMAND_COMMAND_JOB_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file_util.h"
#include "kernels/kernel.h"
#include "proto/shardex.pb.h"

namespace shardex {

// Defaults and caps the coordinator applies to every command job.
struct CommandPolicy {
  uint64_t default_max_output_bytes = 4 << 20;
  uint64_t max_output_cap_bytes = 64 << 20;  // larger asks are refused
  // argv, counting a NUL after each string, and reduce_command (the
  // coordinator's --max-argv-bytes). 128 KiB is also the kernel's limit on
  // one string, which `--shell` and `sh -c` make the whole command.
  uint64_t max_argv_bytes = 128 << 10;
  std::string scratch_dir = TempDir();  // where a reduce command runs
};

// Validates `spec`: RESOURCE_EXHAUSTED for what exceeds a limit (argv,
// reduce_command, max_output_bytes), INVALID_ARGUMENT for the rest (empty
// argv, NUL bytes, paths longer than PATH_MAX, two shard sources, a
// reversed range, unknown reduce modes, out-of-range limits and exit
// codes). Messages name the field: "command.argv[2]: contains a NUL byte".
// CommandSpec has no environment of its own: the workers set it. Fills
// defaults into a copy the caller can keep (`resolved`).
absl::StatusOr<std::unique_ptr<KernelJob>> CreateCommandJob(
    const shardex::v1::CommandSpec& spec, const CommandPolicy& policy,
    shardex::v1::CommandSpec* resolved = nullptr);

}  // namespace shardex

#endif  // SHARDEX_COMMAND_COMMAND_JOB_H_
