#include "worker/command_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "command/placeholders.h"
#include "common/child_env.h"
#include "common/process_runner.h"
#include "kernels/input_split.h"

namespace shardex {

namespace {

// Where {output} points: inside the shard's working directory, which is the
// child's cwd.
constexpr char kOutputName[] = "output";

// The submit flag behind a limit the runner enforced, named in the job
// error: the runner describes limits in its own terms and knows no flags.
const char* LimitFlagNote(ProcessOutcome::Kind kind) {
  switch (kind) {
    case ProcessOutcome::Kind::kTimedOut:
      return " (--shard-timeout)";
    case ProcessOutcome::Kind::kOutputTooLarge:
      return " (--max-output)";
    default:
      return "";
  }
}

}  // namespace

CommandShardOutcome RunCommandShard(const CommandShard& shard,
                                    const std::string& scratch_root,
                                    const CancelFlag& cancel,
                                    WorkDirSource* work_dirs, int cancel_fd) {
  const v1::CommandSpec& spec = *shard.spec;
  const ShardRange range{shard.task.begin(), shard.task.end()};
  ShardVars vars =
      CommandShardVars(spec, shard.task.ref().shard(), shard.shards, range);
  vars.output = kOutputName;

  ProcessSpec p;
  p.argv = ShardArgv(spec, vars);
  // Only while argv[0] is the one it was found for (no placeholder in it).
  if (!shard.program.empty() && spec.argv_size() > 0 &&
      p.argv[0] == spec.argv(0)) {
    p.program = std::string(shard.program);
  }
  p.env = AllowedEnvironment();
  for (auto& [k, v] :
       ShardEnvironment(shard.job_id, shard.task.ref().attempt(), vars)) {
    p.env[k] = v;
  }
  if (!spec.lines().empty()) {
    absl::StatusOr<ShardRange> lines = AlignToLines(spec.lines(), range);
    if (!lines.ok()) return {lines.status(), std::nullopt};
    p.stdin_path = spec.lines();
    p.stdin_offset = lines->begin;
    p.stdin_length = lines->end - lines->begin;
  }
  p.scratch_root = scratch_root;
  p.timeout = absl::Milliseconds(spec.timeout_ms());
  p.max_output_bytes = spec.max_output_bytes();
  p.limits.address_space_bytes = spec.max_memory_bytes();
  p.limits.cpu_seconds = spec.max_cpu_seconds();
  p.limits.file_size_bytes = spec.max_file_bytes();
  p.limits.open_files = spec.max_open_files();
  p.output_file_name = kOutputName;
  p.links = shard.links;
  p.work_dirs = work_dirs;

  absl::StatusOr<ProcessOutcome> out = RunProcess(p, cancel, cancel_fd);
  if (!out.ok()) return {out.status(), std::nullopt};
  CommandShardOutcome result;
  if (out->kind == ProcessOutcome::Kind::kExited)
    result.exit_code = out->exit_code;
  if (out->kind == ProcessOutcome::Kind::kCancelled) {
    result.payload = absl::CancelledError("cancelled");
  } else if (!out->ok()) {
    std::string error = absl::StrCat(p.argv[0], ": ", out->Describe(),
                                     LimitFlagNote(out->kind));
    if (!out->stderr_tail.empty()) {
      absl::StrAppend(&error, "; stderr tail: ", out->stderr_tail);
    }
    result.payload = absl::AbortedError(error);
  } else if (out->output_file.has_value()) {
    result.payload = *std::move(out->output_file);
  } else {
    result.payload = std::move(out->stdout_data);
  }
  return result;
}

}  // namespace shardex
