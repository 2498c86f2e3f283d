#include "command/command_job.h"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "command/exact_sum.h"
#include "command/placeholders.h"
#include "common/child_env.h"
#include "common/process_runner.h"

namespace shardex {

namespace v1 = ::shardex::v1;

namespace {

absl::Status CheckText(absl::string_view field, absl::string_view value) {
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::CommandSpec& spec, const CommandPolicy& policy) {
  if (spec.argv().empty() || spec.argv(0).empty()) {
    return absl::InvalidArgumentError("command: no program given (argv is empty)");
  }
  uint64_t bytes = 0;
  for (const std::string& a : spec.argv()) {
    if (absl::Status st = CheckText("command argv", a); !st.ok()) return st;
    bytes += a.size() + 1;
  }
  if (bytes > policy.max_argv_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "command argv: ", bytes, " bytes exceeds the limit of ",
        policy.max_argv_bytes));
  }
  const int sources = spec.has_range() + (spec.inputs_size() > 0) +
                      !spec.lines().empty();
  if (sources > 1) {
    return absl::InvalidArgumentError(
        "give at most one of --range, --inputs and --lines");
  }
  if (spec.has_range() && spec.range_begin() > spec.range_end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--range ", spec.range_begin(), ":", spec.range_end(),
                     ": the start must not exceed the end"));
  }
  for (const std::string& in : spec.inputs()) {
    if (in.empty()) return absl::InvalidArgumentError("--inputs: empty path");
    if (absl::Status st = CheckText("--inputs", in); !st.ok()) return st;
  }
  if (absl::Status st = CheckText("--lines", spec.lines()); !st.ok()) return st;
  const std::string& r = spec.reduce();
  if (!r.empty() && r != "concat" && r != "sum" && r != "sort") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--reduce '", r, "' is not one of concat, sum, sort"));
  }
  if (!r.empty() && !spec.reduce_command().empty()) {
    return absl::InvalidArgumentError(
        "give --reduce or --reduce-command, not both");
  }
  if (absl::Status st = CheckText("--reduce-command", spec.reduce_command());
      !st.ok()) {
    return st;
  }
  if (spec.max_output_bytes() > policy.max_output_cap_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "--max-output ", spec.max_output_bytes(), " exceeds the limit of ",
        policy.max_output_cap_bytes, " bytes"));
  }
  return absl::OkStatus();
}

std::string SortLines(absl::Span<const std::string> payloads) {
  std::vector<absl::string_view> lines;
  for (const std::string& p : payloads) {
    for (absl::string_view line : absl::StrSplit(p, '\n')) lines.push_back(line);
    if (!p.empty() && p.back() == '\n') lines.pop_back();  // no phantom line
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (absl::string_view line : lines) absl::StrAppend(&out, line, "\n");
  return out;
}

class CommandJob : public KernelJob {
 public:
  CommandJob(v1::CommandSpec spec, Domain domain, CommandPolicy policy)
      : spec_(std::move(spec)), domain_(domain), policy_(std::move(policy)) {}

  Domain domain() const override { return domain_; }

  absl::StatusOr<std::string> RunShard(ShardRange,
                                       const CancelFlag&) const override {
    return absl::UnimplementedError(
        "command shards run in a worker's process pool");
  }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    KernelResult result;
    result.details["shards"] = absl::StrCat(payloads.size());
    if (!spec_.reduce_command().empty()) return RunReduceCommand(payloads);
    if (spec_.reduce() == "sum") {
      ExactSum sum;
      for (const std::string& p : payloads) {
        if (absl::Status st = sum.AddAll(p); !st.ok()) return st;
      }
      result.value = sum.ToString();
    } else if (spec_.reduce() == "sort") {
      result.value = SortLines(payloads);
    } else {
      result.value = absl::StrJoin(payloads, "");
    }
    return result;
  }

 private:
  absl::StatusOr<KernelResult> RunReduceCommand(
      absl::Span<const std::string> payloads) const {
    ProcessSpec p;
    p.argv = {"/bin/sh", "-c", spec_.reduce_command()};
    p.env = AllowedEnvironment();
    p.stdin_data = absl::StrJoin(payloads, "");
    p.scratch_root = policy_.scratch_dir;
    p.max_output_bytes = policy_.max_output_cap_bytes;
    std::atomic<bool> never(false);
    absl::StatusOr<ProcessOutcome> out = RunProcess(p, never);
    if (!out.ok()) return out.status();
    if (!out->ok()) {
      return absl::AbortedError(absl::StrCat(
          "--reduce-command failed: ", out->Describe(),
          out->stderr_tail.empty() ? "" : "; stderr: ", out->stderr_tail));
    }
    KernelResult result;
    result.value = std::move(out->stdout_data);
    result.details["shards"] = absl::StrCat(payloads.size());
    return result;
  }

  const v1::CommandSpec spec_;
  const Domain domain_;
  const CommandPolicy policy_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KernelJob>> CreateCommandJob(
    const v1::CommandSpec& spec, const CommandPolicy& policy,
    v1::CommandSpec* resolved) {
  if (absl::Status st = Validate(spec, policy); !st.ok()) return st;
  v1::CommandSpec s = spec;
  if (s.max_output_bytes() == 0) {
    s.set_max_output_bytes(policy.default_max_output_bytes);
  }
  Domain d;
  if (s.has_range()) {
    d.lo = s.range_begin();
    d.hi = s.range_end();
  } else if (s.inputs_size() > 0) {
    d.kind = Domain::Kind::kTasks;
    d.hi = s.inputs_size();
  } else if (!s.lines().empty()) {
    struct stat st;
    if (stat(s.lines().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--lines ", s.lines(),
          ": not a readable file on the coordinator's host (--lines needs a "
          "file that the coordinator and the workers both see)"));
    }
    d.hi = st.st_size;
  } else {
    d.kind = Domain::Kind::kTasks;
  }
  if (resolved != nullptr) *resolved = s;
  return std::make_unique<CommandJob>(std::move(s), d, policy);
}

ShardVars CommandShardVars(const v1::CommandSpec& spec, uint64_t shard,
                           uint64_t shards, ShardRange range) {
  ShardVars v;
  v.shard = shard;
  v.shards = shards;
  v.begin = range.begin;
  v.end = range.end;
  if (spec.inputs_size() > 0 && shard < static_cast<uint64_t>(spec.inputs_size())) {
    v.input = spec.inputs(shard);
  } else if (!spec.lines().empty()) {
    v.input = spec.lines();
  }
  return v;
}

}  // namespace shardex
