// ProcessOutcome: how a child run by RunProcess ended (exit, signal, or a
// limit of ours that stopped it), what it printed, and one line of text
// describing the ending. ResourceLimits, the per-child rlimits, live here
// because an outcome names the limit that was hit.
//
// The text speaks of the runner's own limits ("timed out after 2s",
// "stdout exceeded the output cap of 1000 bytes"), never of the flags or
// fields a user set them with: callers that know where a limit came from
// add that (worker/command_runner.cc names the submit flags).
//
// Thread-safety: plain values.
#ifndef SHARDEX_COMMON_PROCESS_OUTCOME_H_
#define SHARDEX_COMMON_PROCESS_OUTCOME_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

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

  // The dir it ran in, for messages: removed by now, or given back to
  // ProcessSpec::work_dirs.
  std::string work_dir;
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
  // One line for logs and errors, e.g. "exit code 3",
  // "killed by signal 11 (SIGSEGV)", "timed out after 2s",
  // "CPU time limit of 1 s exceeded (SIGXCPU)", "cancelled".
  std::string Describe() const;
};

// " (address-space limit N bytes was set)": running out of address space
// shows up as SIGSEGV, SIGABRT, ENOMEM or an error exit, none of which says
// why, so texts about such endings point at the likely cause.
std::string AddressSpaceNote(const ResourceLimits& limits);

}  // namespace shardex

#endif  // SHARDEX_COMMON_PROCESS_OUTCOME_H_
