// RunProcess: runs one user program -- a shard of a command job on a worker,
// or a coordinator's --reduce-command -- as a child process and collects
// what it printed, the way a careful multiprocessing pool (or Hadoop
// streaming, or GNU parallel) would. Linux only.
//
// The child runs in an empty, private work directory -- a fresh one,
// removed afterwards whatever happened, or one from the caller's
// WorkDirSource (common/work_dir_source.h), given back afterwards -- in its
// own process group, with exactly the environment it is given, no
// inherited file descriptors beyond 0/1/2, default signal handling,
// resource limits, and no core dumps. No shell is involved: argv reaches the
// program intact. When the child ends -- on its own, or killed for a timeout,
// a cancel or too much output -- its whole process group is SIGKILLed, so
// background grandchildren do not outlive the run. If the calling thread
// dies, the child gets SIGKILL (PR_SET_PDEATHSIG).
//
// The parts: Spawn (common/spawn.h) starts the child; ChildSupervisor
// (common/child_supervisor.h) feeds, drains and stops it; ProcessOutcome
// (common/process_outcome.h) says how it ended. This file owns a run's
// course around them: the checks on the spec, finding the program, the
// work dir, the limits, and reaping the child and its group.
//
// Limits of the process-group approach: a descendant that leaves the group
// (setsid, setpgid) escapes the final kill; only cgroups could catch it.
// It keeps its cwd, so with a recycling WorkDirSource it could still write
// into the dir while a later run holds it.
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

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/process_outcome.h"
#include "common/work_dir_source.h"

namespace shardex {

struct ProcessSpec {
  // argv[0] without a '/' is searched in the PATH of `env` (relative PATH
  // entries are relative to the work dir). No PATH in `env` means only
  // commands given by path can run.
  std::vector<std::string> argv;
  // The file execve() runs, when the caller has already found it (a worker
  // finds a job's program once, FindProgramAnywhere); argv[0] is passed as
  // it is. Empty: found from argv[0] on every run, as above.
  std::string program;
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

  // Where the child's work dir (its cwd) comes from: `work_dirs` when set
  // (not owned; it must outlive the call), which gets it back once the run
  // is over, else a fresh dir (MakeWorkDir, common/file_util.h) under
  // `scratch_root` that RunProcess removes itself. Empty root: $TMPDIR, or
  // /tmp.
  WorkDirSource* work_dirs = nullptr;
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

  // Symlinks made in the (empty) work dir before the child starts (a job's
  // --upload files, staged by the worker): `name` -> `target`. Names are
  // plain (no '/', not "." or "..", not the output file's name) and
  // distinct; targets are used as given. Removing the work dir removes
  // only the links, never what they point to.
  struct Link {
    std::string name;
    std::string target;
  };
  std::vector<Link> links;
};

// The file a child with environment `env` would run for argv[0] = `name`,
// when the answer cannot depend on the child's work dir: `name` itself if
// absolute, else the first executable regular file of that name in PATH,
// provided every PATH entry searched is absolute. nullopt otherwise (not
// found, not executable, a relative entry or name): RunProcess then looks
// on every run and names the error. A worker calls this once per job
// (ProcessSpec::program), like a shell's command hash: searching a long
// PATH took ~10 stat() calls per command shard.
std::optional<std::string> FindProgramAnywhere(
    const std::string& name, const std::map<std::string, std::string>& env);

// Runs `spec` to completion, or until `cancel` becomes true: seen at once
// when `cancel_fd` is an fd that becomes readable with it (an eventfd:
// ShardControl::WakeFd), else within 20 ms. With the fd, nothing wakes
// the calling thread while the child runs quietly (see ChildSupervisor).
// An error means the child could not be started, or
// (INTERNAL) its stdin file failed while being read; every other ending is
// an outcome:
//   INVALID_ARGUMENT   malformed spec (empty argv, NUL bytes, bad names)
//   NOT_FOUND          "command not found: foo (searched PATH=...)"
//   PERMISSION_DENIED  the program exists but may not be executed
//   INTERNAL           a system call failed (with strerror), including an
//                      unreadable stdin file or scratch root
// or whatever error `work_dirs->Acquire()` returned.
// Once the work dir exists it is removed (or released to `work_dirs`) in
// every case, before RunProcess returns.
absl::StatusOr<ProcessOutcome> RunProcess(const ProcessSpec& spec,
                                          const std::atomic<bool>& cancel,
                                          int cancel_fd = -1);

}  // namespace shardex

#endif  // SHARDEX_COMMON_PROCESS_RUNNER_H_
