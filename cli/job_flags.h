// JobFlags: the flags that describe a job, shared by `submit` and `local`:
// a kernel subcommand with the kernel's own flags and positional arguments,
// or a command after `--` with its shard source, reduce mode and limits,
// plus --shards, --output, --upload and --shared-fs. Registers them on a CLI11 command and turns
// what was parsed into a JobSpec; a command-job flag given with a kernel is
// an error naming that flag, never silently dropped.
//
// Thread-safety: single-threaded, like command-line parsing.
#ifndef SHARDEX_CLI_JOB_FLAGS_H_
#define SHARDEX_CLI_JOB_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "proto/shardex.pb.h"

namespace shardex {

class JobFlags {
 public:
  // Adds the flags and one subcommand per kernel to `cmd`.
  void Register(CLI::App* cmd);

  // The program and arguments that followed `--` (see SplitAtDoubleDash).
  void SetCommand(std::vector<std::string> argv) { argv_ = std::move(argv); }

  // After parsing: the job, or INVALID_ARGUMENT with one clear line.
  // `extras` are arguments the parser did not recognise.
  // spec.shared_fs is set by --shared-fs or SHARDEX_SHARED_FS=1.
  absl::StatusOr<shardex::v1::JobSpec> Build(
      const std::vector<std::string>& extras) const;

  // After Build: the --upload paths, absolute, in the order given
  // (cli/staging_plan.h walks them).
  std::vector<std::string> Uploads() const;

 private:
  absl::StatusOr<shardex::v1::CommandSpec> BuildCommand() const;
  // INVALID_ARGUMENT naming the first command-job flag given, or the
  // command after --, on a job of `kernel`.
  absl::Status CheckNoCommandFlags(const std::string& kernel) const;
  absl::Status AddKernelArgs(const std::string& kernel,
                             shardex::v1::JobSpec& spec) const;

  CLI::App* cmd_ = nullptr;
  uint64_t shards_ = 0;
  std::string target_shard_time_;
  std::string output_dir_;
  bool shared_fs_ = false;

  // Command jobs. Their flags are in command_only_ (owned by cmd_), which
  // Build uses to reject any of them on a kernel job.
  std::vector<const CLI::Option*> command_only_;
  std::vector<std::string> argv_;
  bool shell_ = false;
  std::string range_;
  std::vector<std::string> inputs_;
  std::string lines_;
  std::string reduce_;
  std::string reduce_command_;
  std::string timeout_;
  std::string max_output_, max_memory_, max_file_size_;
  uint64_t max_cpu_seconds_ = 0;
  uint64_t max_open_files_ = 0;
  std::vector<int> no_retry_exit_;
  std::vector<std::string> uploads_;

  // Kernel arguments as typed, by "kernel/param".
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> lists_;
};

// Cuts argv at the first "--": what precedes it goes to the flag parser,
// what follows is a command job's program and arguments, untouched (they
// may look like flags).
std::vector<std::string> SplitAtDoubleDash(std::vector<std::string>& argv);

// "4MiB", "512k", "1G", "1000" -> bytes (powers of 1024 for suffixes).
absl::StatusOr<uint64_t> ParseBytes(const std::string& flag,
                                    const std::string& text);

// Makes `path` absolute against the current directory, since the workers
// and the coordinator do not share the client's working directory.
std::string AbsolutePath(const std::string& path);

}  // namespace shardex

#endif  // SHARDEX_CLI_JOB_FLAGS_H_
