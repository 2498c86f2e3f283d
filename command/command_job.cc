#include "command/command_job.h"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "command/exact_sum.h"
#include "common/child_env.h"
#include "common/process_runner.h"
#include "common/text_checks.h"

namespace shardex {

namespace {

constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX
// A year: longer is a mistake (and would overflow a deadline).
constexpr uint64_t kMaxTimeoutMs = 366ull * 24 * 3600 * 1000;
constexpr uint64_t kMaxOpenFiles = 1 << 20;  // Linux's default nr_open
constexpr int kMaxNoRetryCodes = 255;

std::string Field(absl::string_view name, int index) {
  return absl::StrCat(name, "[", index, "]");
}

absl::Status CheckPath(absl::string_view field, absl::string_view path) {
  if (path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", path.size(), " bytes, longer than a path may be (",
        kMaxPathBytes, ")"));
  }
  return CheckNoNul(field, path);
}

// The program: argv (and reduce_command, run as `sh -c`) within the argv
// limit, which keeps them under the kernel's 128 KiB per-string limit
// however --shell joins them.
absl::Status ValidateProgram(const v1::CommandSpec& spec,
                             const CommandPolicy& policy) {
  if (spec.argv().empty()) {
    return absl::InvalidArgumentError(
        "command.argv: no program given (argv is empty)");
  }
  uint64_t bytes = 0;
  for (const std::string& a : spec.argv()) bytes += a.size() + 1;
  if (bytes > policy.max_argv_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("command.argv: ", bytes, " bytes exceeds the limit of ",
                     policy.max_argv_bytes,
                     " (raise it with the coordinator's --max-argv-bytes)"));
  }
  if (spec.argv(0).empty()) {
    return absl::InvalidArgumentError(
        "command.argv[0]: the program name is empty");
  }
  for (int i = 0; i < spec.argv_size(); ++i) {
    if (absl::Status st = CheckNoNul(Field("command.argv", i), spec.argv(i));
        !st.ok()) {
      return st;
    }
  }
  if (spec.reduce_command().size() + 1 > policy.max_argv_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("command.reduce_command (--reduce-command): ",
                     spec.reduce_command().size() + 1,
                     " bytes exceeds the limit of ", policy.max_argv_bytes,
                     " (raise it with the coordinator's --max-argv-bytes)"));
  }
  return CheckNoNul("command.reduce_command (--reduce-command)",
                    spec.reduce_command());
}

// Where the shards come from: at most one source, each well formed.
absl::Status ValidateSource(const v1::CommandSpec& spec) {
  const int sources = spec.has_range() + (spec.inputs_size() > 0) +
                      !spec.lines().empty();
  if (sources > 1) {
    return absl::InvalidArgumentError(
        "command: give at most one of --range (range_begin/range_end), "
        "--inputs (inputs) and --lines (lines)");
  }
  if (spec.has_range() && spec.range_begin() > spec.range_end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command.range_begin (--range ", spec.range_begin(), ":",
                     spec.range_end(), "): the start must not exceed the end"));
  }
  for (int i = 0; i < spec.inputs_size(); ++i) {
    const std::string field = Field("command.inputs", i) + " (--inputs)";
    if (spec.inputs(i).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": empty path"));
    }
    if (absl::Status st = CheckPath(field, spec.inputs(i)); !st.ok()) return st;
  }
  return CheckPath("command.lines (--lines)", spec.lines());
}

// Reduce mode, per-shard limits and exit codes.
absl::Status ValidateSettings(const v1::CommandSpec& spec,
                              const CommandPolicy& policy) {
  const std::string& r = spec.reduce();
  if (!r.empty() && r != "concat" && r != "sum" && r != "sort") {
    return absl::InvalidArgumentError(absl::StrCat(
        "command.reduce (--reduce): '", absl::CHexEscape(r.substr(0, 64)),
        "' is not one of concat, sum, sort"));
  }
  if (!r.empty() && !spec.reduce_command().empty()) {
    return absl::InvalidArgumentError(
        "command.reduce_command: give --reduce or --reduce-command, not both");
  }
  if (spec.max_output_bytes() > policy.max_output_cap_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "command.max_output_bytes (--max-output): ", spec.max_output_bytes(),
        " exceeds the limit of ", policy.max_output_cap_bytes, " bytes"));
  }
  if (spec.timeout_ms() > kMaxTimeoutMs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "command.timeout_ms (--shard-timeout): ", spec.timeout_ms(),
        " ms is more than a year (", kMaxTimeoutMs, ")"));
  }
  if (spec.max_open_files() != 0 &&
      (spec.max_open_files() < 3 || spec.max_open_files() > kMaxOpenFiles)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "command.max_open_files (--max-open-files): must be 0 (no limit) or "
        "between 3 and ",
        kMaxOpenFiles, ", got ", spec.max_open_files()));
  }
  if (spec.no_retry_exit_codes_size() > kMaxNoRetryCodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("command.no_retry_exit_codes (--no-retry-exit): ",
                     spec.no_retry_exit_codes_size(), " codes, more than the ",
                     kMaxNoRetryCodes, " there are"));
  }
  for (int i = 0; i < spec.no_retry_exit_codes_size(); ++i) {
    const int32_t code = spec.no_retry_exit_codes(i);
    if (code < 1 || code > 255) {
      return absl::InvalidArgumentError(absl::StrCat(
          Field("command.no_retry_exit_codes", i),
          " (--no-retry-exit): must be an exit code between 1 and 255, got ",
          code));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const v1::CommandSpec& spec,
                      const CommandPolicy& policy) {
  if (absl::Status st = ValidateProgram(spec, policy); !st.ok()) return st;
  if (absl::Status st = ValidateSource(spec); !st.ok()) return st;
  return ValidateSettings(spec, policy);
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
          "command.lines (--lines) ", s.lines(),
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

}  // namespace shardex
