#include "cli/job_flags.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "kernels/args.h"
#include "kernels/kernel.h"

namespace shardex {

namespace {

std::string KnownKernels() {
  std::vector<std::string> names;
  for (const KernelInfo* k : AllKernels()) names.push_back(k->name);
  return absl::StrJoin(names, ", ");
}

// Expands a quoted glob (`--inputs 'data/*.txt'`); other paths pass as
// they are, absolute.
absl::StatusOr<std::vector<std::string>> ExpandInputs(
    const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    struct stat st;
    if (in.find_first_of("*?[") == std::string::npos ||
        stat(in.c_str(), &st) == 0) {
      out.push_back(AbsolutePath(in));
      continue;
    }
    glob_t g;
    const int rc = glob(in.c_str(), 0, nullptr, &g);
    if (rc != 0) {
      globfree(&g);
      return absl::InvalidArgumentError(
          absl::StrCat("--inputs '", in, "' matches no file"));
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      out.push_back(AbsolutePath(g.gl_pathv[i]));
    }
    globfree(&g);
  }
  return out;
}

}  // namespace

std::vector<std::string> JobFlags::Uploads() const {
  std::vector<std::string> out;
  for (const std::string& u : uploads_) out.push_back(AbsolutePath(u));
  return out;
}

std::vector<std::string> SplitAtDoubleDash(std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] != "--") continue;
    std::vector<std::string> command(argv.begin() + i + 1, argv.end());
    argv.resize(i);
    return command;
  }
  return {};
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return path;
  return absl::StrCat(buf, "/", path);
}

absl::StatusOr<uint64_t> ParseBytes(const std::string& flag,
                                    const std::string& text) {
  std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  uint64_t unit = 1;
  for (const auto& [suffix, mult] :
       std::vector<std::pair<std::string, uint64_t>>{
           {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30},
           {"k", 1ull << 10},   {"m", 1ull << 20},   {"g", 1ull << 30},
           {"b", 1}}) {
    if (absl::EndsWith(t, suffix)) {
      unit = mult;
      t.resize(t.size() - suffix.size());
      break;
    }
  }
  uint64_t n = 0;
  if (t.empty() || !absl::SimpleAtoi(t, &n) || n > UINT64_MAX / unit) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": '", text, "' is not a size like 4MiB, 512k or 1000"));
  }
  return n * unit;
}

void JobFlags::Register(CLI::App* cmd) {
  cmd_ = cmd;
  cmd->add_option("--shards", shards_,
                  "exactly this many shards (default: a range job is cut "
                  "adaptively as it runs, other jobs from the cluster size)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--target-shard-time", target_shard_time_,
                  "adaptive shards aim at this run time, smaller near the "
                  "end (default 1s)");
  cmd->add_option("--output", output_dir_,
                  "write part-NNNNN per shard (part-BEGIN-END for adaptive shards) and the result to this new "
                  "directory (on this host; with --shared-fs on the "
                  "coordinator's)");
  cmd->add_flag("--shared-fs", shared_fs_,
                "every host sees the same files at the same paths: pass "
                "paths as they are, upload nothing (env "
                "SHARDEX_SHARED_FS=1)");
  // Command jobs: the program itself follows `--` (SplitAtDoubleDash).
  // Every flag here is recorded in command_only_, so that Build rejects it
  // on a kernel job instead of dropping it.
  auto command_only = [this](CLI::Option* opt) {
    command_only_.push_back(opt);
    return opt;
  };
  command_only(
      cmd->add_flag("--shell", shell_, "run the command with /bin/sh -c"));
  command_only(
      cmd->add_option("--range", range_, "shards split [A, B): --range A:B"));
  command_only(cmd->add_option("--inputs", inputs_,
                               "one shard per file (or a quoted glob)"));
  command_only(cmd->add_option(
      "--lines", lines_,
      "one file cut on line boundaries, each part fed on stdin"));
  command_only(
      cmd->add_option("--reduce", reduce_, "concat (default), sum or sort"))
      ->check(CLI::IsMember({"concat", "sum", "sort"}));
  command_only(cmd->add_option("--reduce-command", reduce_command_,
                               "shell command reading all outputs on stdin"));
  command_only(cmd->add_option("--shard-timeout", timeout_,
                               "wall-clock limit per shard"));
  command_only(
      cmd->add_option("--max-output", max_output_,
                      "cap on a shard's stdout and stderr (default 4MiB)"));
  command_only(cmd->add_option("--max-memory", max_memory_,
                               "address-space limit per shard"));
  command_only(
      cmd->add_option("--max-cpu", max_cpu_seconds_, "CPU seconds per shard"));
  command_only(cmd->add_option("--max-file-size", max_file_size_,
                               "largest file a shard may write"));
  command_only(cmd->add_option("--max-open-files", max_open_files_,
                               "open file descriptors per shard"));
  command_only(cmd->add_option(
      "--upload", uploads_,
      "copy FILE, or DIR with everything under it, into each shard's "
      "working directory (repeatable)"))
      ->allow_extra_args(false);
  command_only(cmd->add_option("--no-retry-exit", no_retry_exit_,
                               "exit code meaning retrying will not help: "
                               "the job fails at once (repeatable)"))
      ->check(CLI::Range(1, 255))
      ->allow_extra_args(false)
      ->delimiter(',');

  for (const KernelInfo* k : AllKernels()) {
    CLI::App* sub = cmd->add_subcommand(k->name, k->summary);
    for (const KernelParam& p : k->params) {
      std::string help = p.help;
      if (!p.default_value.empty()) help += " (default " + p.default_value + ")";
      const std::string key = k->name + "/" + p.name;
      CLI::Option* opt = nullptr;
      switch (p.kind) {
        case KernelParam::Kind::kFlag:
          opt = sub->add_option("--" + p.name, values_[key], help);
          break;
        case KernelParam::Kind::kPositional:
          opt = sub->add_option(p.name, values_[key], help);
          break;
        case KernelParam::Kind::kPositionalList:
          opt = sub->add_option(p.name, lists_[key], help);
          break;
        case KernelParam::Kind::kSwitch:
          // const: CLI11 takes a non-const string as the flag's result
          // variable (here a dead local), not as its description.
          opt = sub->add_flag("--" + p.name, std::as_const(help));
          break;
      }
      if (p.required) opt->required();
    }
  }
}

absl::Status JobFlags::AddKernelArgs(const std::string& kernel,
                                     v1::JobSpec& spec) const {
  const KernelInfo* k = FindKernel(kernel);
  const CLI::App* sub = cmd_->get_subcommand(kernel);
  for (const KernelParam& p : k->params) {
    const std::string key = kernel + "/" + p.name;
    const bool dashed = p.kind == KernelParam::Kind::kFlag ||
                        p.kind == KernelParam::Kind::kSwitch;
    const std::string flag = dashed ? "--" + p.name : p.name;
    if (sub->count(flag) == 0) continue;
    std::string value;
    if (p.kind == KernelParam::Kind::kSwitch) {
      value = "true";
    } else if (p.kind == KernelParam::Kind::kPositionalList) {
      std::vector<std::string> items = lists_.at(key);
      if (p.is_path) {
        for (std::string& item : items) item = AbsolutePath(item);
      }
      value = absl::StrJoin(items, "\n");
    } else {
      value = values_.at(key);
      if (p.is_path) value = AbsolutePath(value);
    }
    (*spec.mutable_args())[p.name] = value;
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CommandSpec> JobFlags::BuildCommand() const {
  v1::CommandSpec c;
  for (const std::string& a : argv_) c.add_argv(a);
  c.set_shell(shell_);
  if (!range_.empty()) {
    std::vector<std::string> parts = absl::StrSplit(range_, ':');
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("--range '", range_, "' is not A:B"));
    }
    absl::StatusOr<uint64_t> a = ParseUint64Arg("range", parts[0]);
    if (!a.ok()) return a.status();
    absl::StatusOr<uint64_t> b = ParseUint64Arg("range", parts[1]);
    if (!b.ok()) return b.status();
    c.set_has_range(true);
    c.set_range_begin(*a);
    c.set_range_end(*b);
  }
  absl::StatusOr<std::vector<std::string>> inputs = ExpandInputs(inputs_);
  if (!inputs.ok()) return inputs.status();
  for (const std::string& in : *inputs) c.add_inputs(in);
  if (!lines_.empty()) c.set_lines(AbsolutePath(lines_));
  c.set_reduce(reduce_);
  c.set_reduce_command(reduce_command_);
  if (!timeout_.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(timeout_, &d) || d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--shard-timeout: '", timeout_, "' is not a duration like 30s"));
    }
    c.set_timeout_ms(absl::ToInt64Milliseconds(d));
  }
  for (const auto& [flag, text, setter] :
       std::vector<std::tuple<std::string, std::string,
                              void (v1::CommandSpec::*)(uint64_t)>>{
           {"--max-output", max_output_, &v1::CommandSpec::set_max_output_bytes},
           {"--max-memory", max_memory_, &v1::CommandSpec::set_max_memory_bytes},
           {"--max-file-size", max_file_size_,
            &v1::CommandSpec::set_max_file_bytes}}) {
    if (text.empty()) continue;
    absl::StatusOr<uint64_t> bytes = ParseBytes(flag, text);
    if (!bytes.ok()) return bytes.status();
    (c.*setter)(*bytes);
  }
  c.set_max_cpu_seconds(max_cpu_seconds_);
  c.set_max_open_files(max_open_files_);
  for (int code : no_retry_exit_) c.add_no_retry_exit_codes(code);
  return c;
}

absl::Status JobFlags::CheckNoCommandFlags(const std::string& kernel) const {
  for (const CLI::Option* opt : command_only_) {
    if (opt->count() == 0) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(opt->get_name(), " applies to command jobs only (a "
                     "program after --), not to kernel ", kernel));
  }
  if (!argv_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a command after -- does not go with kernel ", kernel));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::JobSpec> JobFlags::Build(
    const std::vector<std::string>& extras) const {
  std::string kernel;
  for (const CLI::App* sub : cmd_->get_subcommands()) kernel = sub->get_name();
  if (!extras.empty()) {
    if (!kernel.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument(s) for ", kernel, ": ",
          absl::StrJoin(extras, " ")));
    }
    if (absl::StartsWith(extras[0], "-")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", extras[0]));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kernel '", extras[0], "' (known: ",
                     KnownKernels(), "; or give a command after --)"));
  }
  v1::JobSpec spec;
  spec.set_shards(shards_);
  if (!target_shard_time_.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(target_shard_time_, &d) ||
        d < absl::Milliseconds(1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target-shard-time: '", target_shard_time_,
                       "' is not a duration of at least 1ms, like 500ms or 2s"));
    }
    if (shards_ != 0) {
      return absl::InvalidArgumentError(
          "--target-shard-time sizes adaptive shards; with --shards N the "
          "job has exactly N: give one of them");
    }
    spec.set_target_shard_time_ms(absl::ToInt64Milliseconds(d));
  }
  const char* env_shared = std::getenv("SHARDEX_SHARED_FS");
  spec.set_shared_fs(shared_fs_ || (env_shared != nullptr &&
                                    std::string(env_shared) == "1"));
  if (!output_dir_.empty()) spec.set_output_dir(AbsolutePath(output_dir_));
  if (!kernel.empty()) {
    if (absl::Status st = CheckNoCommandFlags(kernel); !st.ok()) return st;
    spec.set_kernel(kernel);
    if (absl::Status st = AddKernelArgs(kernel, spec); !st.ok()) return st;
    return spec;
  }
  if (argv_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name a kernel (", KnownKernels(), ") or give a command after --"));
  }
  absl::StatusOr<v1::CommandSpec> command = BuildCommand();
  if (!command.ok()) return command.status();
  *spec.mutable_command() = *std::move(command);
  return spec;
}

}  // namespace shardex
