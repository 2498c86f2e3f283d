// Spawn: the one place that starts child processes (RunProcess for user
// programs, Subprocess for our own coordinators and workers). Linux only.
//
// Like posix_spawn, the child is made with clone(CLONE_VM | CLONE_VFORK): it
// borrows our memory until it execs (the calling thread waits meanwhile), so
// starting a child costs the same in a large multi-threaded process as in a
// small one. In the child, only async-signal-safe calls run, reading a plan
// prepared beforehand: optional new process group, signal dispositions
// reset, PR_SET_PDEATHSIG, rlimits, stdio, working directory, inherited fds
// closed, empty signal mask, execve. A step that fails in the child is
// reported back through a close-on-exec pipe, so Spawn returns only once the
// child runs the new program or has failed (and been reaped).
//
// Thread-safety: Spawn may be called from many threads at once. Signals are
// blocked on the calling thread across the clone. PR_SET_PDEATHSIG fires
// when the *calling thread* exits, so callers that ask for it keep that
// thread alive as long as the child (RunProcess does; Subprocess users call
// it from long-lived threads).
#ifndef SHARDEX_COMMON_SPAWN_H_
#define SHARDEX_COMMON_SPAWN_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace shardex {

// One setrlimit() the child makes on itself before exec.
struct RlimitSetting {
  int resource;  // RLIMIT_*
  struct rlimit value;
};

struct SpawnRequest {
  // The file execve() runs; never searched for in PATH.
  std::string program;
  std::vector<std::string> argv;
  // The child's whole environment; unset: this process's (environ).
  std::optional<std::map<std::string, std::string>> env;
  // The child's cwd; empty: ours.
  std::string work_dir;
  // Descriptors that become the child's 0, 1, 2; -1 leaves ours in place.
  int stdio[3] = {-1, -1, -1};

  // Isolation, wanted for user programs and not for our own daemons:
  // lead a new process group (so the whole group can be killed)...
  bool new_process_group = false;
  // ...and inherit no descriptor beyond 0/1/2 (else only close-on-exec
  // ones are closed, as with a plain exec).
  bool close_other_fds = false;
  // Caught signals always return to SIG_DFL in the child (their handlers
  // live in memory the child borrows). Ignored ones stay ignored only when
  // this is set, as exec leaves them: `nohup shardex local`'s workers keep
  // ignoring SIGHUP. User programs get every signal at its default.
  bool keep_ignored_signals = false;
  // SIGKILL the child when the calling thread exits (PR_SET_PDEATHSIG).
  bool die_with_parent = true;
  // Applied in order; see RlimitSetting.
  std::vector<RlimitSetting> rlimits;
};

// The child step that failed before the new program could run.
enum class SpawnStep { kSetpgid, kPdeathsig, kSetrlimit, kDup2, kChdir, kExec };

struct SpawnFailure {
  SpawnStep step = SpawnStep::kExec;
  int err = 0;       // errno in the child
  int resource = 0;  // kSetrlimit: which RLIMIT_*

  // "setrlimit(RLIMIT_AS) in the child: Operation not permitted".
  std::string Describe() const;
};

struct SpawnResult {
  // The running child: its pid, also its process group id with
  // new_process_group. When `failure` is set the child is already reaped.
  pid_t pid = 0;
  std::optional<SpawnFailure> failure;
};

// Starts the child described by `request`. An error status (INTERNAL) means
// a system call failed in this process (pipe, clone); a child that failed
// before running its program comes back as SpawnResult::failure.
absl::StatusOr<SpawnResult> Spawn(const SpawnRequest& request);

// A close-on-exec pipe whose ends are numbered 3 or above, so that a child's
// dup2() onto 0/1/2 never clobbers one of them (a process started with a
// closed stdin would otherwise get pipe ends numbered 0..2).
absl::Status MakePipe(UniqueFd* read_end, UniqueFd* write_end);

// SIGKILLs the process group led by `pid` (or `pid` alone if it leads none).
// Only safe while `pid` is not yet reaped: until then neither its pid nor
// the group id can be reused.
void KillProcessGroup(pid_t pid);

}  // namespace shardex

#endif  // SHARDEX_COMMON_SPAWN_H_
