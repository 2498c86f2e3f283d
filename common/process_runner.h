// RunProcess: runs one shard of a "command job" as a child process and
// collects what it printed, the way a careful multiprocessing pool (or Hadoop
// streaming, or GNU parallel) would. Linux only.
//
// The child runs in a fresh work directory (removed afterwards, whatever
// happened), in its own process group, with exactly the environment it is
// given, no inherited file descriptors beyond 0/1/2, default signal handling,
// resource limits, and no core dumps. No shell is involved: argv reaches the
// program intact. When the child ends -- on its own, or killed for a timeout,
// a cancel or too much output -- its whole process group is SIGKILLed, so
// background grandchildren do not outlive the shard. If the worker dies, the
// child gets SIGKILL (PR_SET_PDEATHSIG).
//
// Limits of the process-group approach: a descendant that leaves the group
// (setsid, setpgid) escapes the final kill; only cgroups could catch it.
//
// Thread-safety: RunProcess may be called from many threads at once (one
// call per pool thread). It blocks the calling thread until the child has
// been reaped and its process group SIGKILLed; `cancel` may be set from any
// thread. Nothing else in the process may reap children with waitpid(-1).
// Killed grandchildren are reaped by init -- or by RunProcess itself if the
// worker made itself a child subreaper (PR_SET_CHILD_SUBREAPER), which makes
// "no process of the group is left" hold the moment RunProcess returns.
#ifndef SHARDEX_COMMON_PROCESS_RUNNER_H_
#define SHARDEX_COMMON_PROCESS_RUNNER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shardex {

// Per-child resource limits. 0 = no limit of ours (the worker's own limits
// still apply; a limit above the worker's hard limit is lowered to it).
// Core dumps are always disabled.
struct ResourceLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  // RLIMIT_CPU: SIGXCPU at this many seconds of CPU, SIGKILL one second
  // later if the child ignores SIGXCPU.
  uint64_t cpu_seconds = 0;
  uint64_t file_size_bytes = 0;  // RLIMIT_FSIZE
  uint64_t open_files = 0;       // RLIMIT_NOFILE
};

struct ProcessSpec {
  // argv[0] without a '/' is searched in the PATH of `env` (relative PATH
  // entries are relative to the work dir). No PATH in `env` means only
  // commands given by path can run.
  std::vector<std::string> argv;
  // The child's entire environment; the caller builds the allow-list.
  std::map<std::string, std::string> env;

  // The child's stdin: `stdin_data`, or `stdin_length` bytes of the file
  // `stdin_path` from `stdin_offset` (read a chunk at a time, so the file may
  // be far larger than memory), or nothing. Then stdin is closed. Setting
  // both is an error. The default length means "to the end of the file";
  // 0 really means an empty slice, so that an empty line-aligned split never
  // turns into "the rest of the file".
  static constexpr uint64_t kToEndOfFile = std::numeric_limits<uint64_t>::max();
  std::string stdin_data;
  std::string stdin_path;
  uint64_t stdin_offset = 0;
  uint64_t stdin_length = kToEndOfFile;

  // A fresh work dir (mkdtemp "shard-XXXXXX") is created under this and is
  // the child's cwd. Empty: $TMPDIR, or /tmp.
  std::string scratch_root;
  // Wall-clock limit; zero means none.
  absl::Duration timeout = absl::ZeroDuration();
  // Cap on stdout and on stderr, each, and on the output file. Exceeding it
  // kills the child and fails the run (a truncated result would be a wrong
  // result). 0 allows no output at all.
  uint64_t max_output_bytes = 4 << 20;
  ResourceLimits limits;
  // If the child exits 0 leaving a regular file of this name in its work
  // dir, its bytes are returned too. A plain name (no '/'); empty disables.
  std::string output_file_name = "output";
};

struct ProcessOutcome {
  enum class Kind { kExited, kSignaled, kTimedOut, kOutputTooLarge, kCancelled };
  Kind kind = Kind::kExited;
  // How the child ended: exit_code for kExited, signal for kSignaled. For
  // the kinds where we killed it, normally signal == SIGKILL.
  int exit_code = 0;
  int signal = 0;

  std::string stdout_data;  // all of stdout (at most the cap)
  std::string stderr_tail;  // the last 4 KiB of stderr
  std::optional<std::string> output_file;  // see ProcessSpec
  // kOutputTooLarge: "stdout", "stderr" or "output file 'NAME'".
  std::string overflowed;

  std::string work_dir;  // the dir it ran in (removed by now), for messages
  // Non-empty if part of the work dir could not be removed.
  std::string cleanup_error;
  // The direct child's pid, which is also its process group id. By the time
  // RunProcess returns it has been reaped and its group SIGKILLed.
  pid_t pid = 0;
  absl::Duration wall = absl::ZeroDuration();
  // User + system CPU of the child and the descendants it waited for.
  absl::Duration cpu = absl::ZeroDuration();

  // From the spec, so that Describe() can name the limit that was hit.
  ResourceLimits limits;
  absl::Duration timeout = absl::ZeroDuration();
  uint64_t max_output_bytes = 0;

  bool ok() const { return kind == Kind::kExited && exit_code == 0; }
  // One line for logs and job errors, e.g. "exit code 3",
  // "killed by signal 11 (SIGSEGV)", "timed out after 2s (--shard-timeout)",
  // "CPU time limit of 1 s exceeded (SIGXCPU)", "cancelled".
  std::string Describe() const;
};

// Runs `spec` to completion (or until `cancel` becomes true, checked at
// least every 20 ms). An error means the child could not be started, or
// (INTERNAL) its stdin file failed while being read; every other ending is
// an outcome:
//   INVALID_ARGUMENT   malformed spec (empty argv, NUL bytes, bad names)
//   NOT_FOUND          "command not found: foo (searched PATH=...)"
//   PERMISSION_DENIED  the program exists but may not be executed
//   INTERNAL           a system call failed (with strerror), including an
//                      unreadable stdin file or scratch root
// The work dir is removed in every case.
absl::StatusOr<ProcessOutcome> RunProcess(const ProcessSpec& spec,
                                          const std::atomic<bool>& cancel);

}  // namespace shardex

#endif  // SHARDEX_COMMON_PROCESS_RUNNER_H_
