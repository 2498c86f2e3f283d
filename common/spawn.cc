#include "common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace shardex {

using absl::StrCat;

namespace {

// Everything the child needs, prepared before the clone: the child then
// makes only async-signal-safe calls (no allocation, no locks) and, sharing
// our memory, must not change anything of ours.
struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* work_dir = nullptr;  // nullptr: stay
  int stdio[3] = {-1, -1, -1};     // -1: keep
  int report_fd = -1;              // close-on-exec: carries a SpawnFailure
  pid_t parent = 0;
  bool new_process_group = false;
  bool close_other_fds = false;
  bool die_with_parent = false;
  bool keep_ignored_signals = false;
  sigset_t ignored;  // the signals we ignore, for keep_ignored_signals
  const RlimitSetting* rlimits = nullptr;
  size_t num_rlimits = 0;
  int max_fd = 0;  // for the fallback when close_range() is missing
};

[[noreturn]] void FailInChild(const ChildPlan& plan, SpawnStep step,
                              int resource = 0) {
  const SpawnFailure failure = {step, errno, resource};
  (void)!write(plan.report_fd, &failure, sizeof(failure));
  _exit(127);
}

// Runs while the parent's clone-time mask still blocks every signal, so no
// handler of ours can run in here. Exec would reset handled signals anyway,
// but a handler running before it would run in our memory; and it keeps
// ignored ones ignored (a child ignoring SIGPIPE never stops writing to a
// closed pipe). The raw syscall also reaches the two signals glibc's
// sigaction() refuses (32, 33); an all-zero kernel sigaction is SIG_DFL
// whatever the architecture's layout.
void ResetSignalDispositions(const ChildPlan& plan) {
  const unsigned long dfl[8] = {};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (plan.keep_ignored_signals && sigismember(&plan.ignored, sig) == 1) {
      continue;
    }
    syscall(SYS_rt_sigaction, sig, dfl, nullptr, (NSIG - 1) / 8);
  }
}

// Leaves only 0/1/2 open across exec. Marking the rest close-on-exec rather
// than closing them keeps the report pipe usable until execve succeeds.
void CloseOtherFds(const ChildPlan& plan) {
  if (close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd = STDERR_FILENO + 1; fd < plan.max_fd; ++fd) {  // kernel < 5.11
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

[[noreturn]] void ExecChild(const ChildPlan& plan) {
  ResetSignalDispositions(plan);
  if (plan.new_process_group && setpgid(0, 0) != 0) {
    FailInChild(plan, SpawnStep::kSetpgid);
  }
  if (plan.die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
      FailInChild(plan, SpawnStep::kPdeathsig);
    }
    if (getppid() != plan.parent) _exit(127);  // it died before the prctl
  }
  for (size_t i = 0; i < plan.num_rlimits; ++i) {
    const RlimitSetting& limit = plan.rlimits[i];
    if (setrlimit(limit.resource, &limit.value) != 0) {
      FailInChild(plan, SpawnStep::kSetrlimit, limit.resource);
    }
  }
  for (int target = 0; target < 3; ++target) {
    if (plan.stdio[target] >= 0 && dup2(plan.stdio[target], target) < 0) {
      FailInChild(plan, SpawnStep::kDup2);
    }
  }
  if (plan.work_dir != nullptr && chdir(plan.work_dir) != 0) {
    FailInChild(plan, SpawnStep::kChdir);
  }
  if (plan.close_other_fds) CloseOtherFds(plan);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.program, plan.argv, plan.envp);
  FailInChild(plan, SpawnStep::kExec);
}

int ChildMain(void* plan) { ExecChild(*static_cast<const ChildPlan*>(plan)); }

// Enough for ExecChild, which keeps a few words on its stack.
constexpr size_t kChildStackBytes = 64 << 10;

const char* StepName(SpawnStep step) {
  switch (step) {
    case SpawnStep::kSetpgid: return "setpgid";
    case SpawnStep::kPdeathsig: return "prctl(PR_SET_PDEATHSIG)";
    case SpawnStep::kSetrlimit: return "setrlimit";
    case SpawnStep::kDup2: return "dup2";
    case SpawnStep::kChdir: return "chdir to the work dir";
    case SpawnStep::kExec: return "execve";
  }
  return "?";
}

const char* RlimitName(int resource) {
  switch (resource) {
    case RLIMIT_CORE: return "RLIMIT_CORE";
    case RLIMIT_AS: return "RLIMIT_AS";
    case RLIMIT_CPU: return "RLIMIT_CPU";
    case RLIMIT_FSIZE: return "RLIMIT_FSIZE";
    case RLIMIT_NOFILE: return "RLIMIT_NOFILE";
  }
  return "rlimit";
}

// Pointers into `strings` (which must outlive them), NULL-terminated.
std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// The signals this process ignores, which keep_ignored_signals keeps.
sigset_t IgnoredSignals() {
  sigset_t ignored;
  sigemptyset(&ignored);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action;
    if (sigaction(sig, nullptr, &action) == 0 &&
        action.sa_handler == SIG_IGN) {
      sigaddset(&ignored, sig);
    }
  }
  return ignored;
}

int MaxFd() {
  struct rlimit nofile;
  return getrlimit(RLIMIT_NOFILE, &nofile) == 0
             ? static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20))
             : 1 << 16;
}

// Starts the child on `plan` with every signal blocked on this thread, so
// that no handler of ours runs in the child before it resets them.
absl::StatusOr<pid_t> CloneChild(ChildPlan* plan) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
#if defined(SHARDEX_TSAN)  // --config=tsan
  // ThreadSanitizer cannot follow a child sharing our memory: its runtime
  // state (this thread's, in the same TLS) gets corrupted, which shows up
  // as false races and "starting new threads after multi-threaded fork".
  // A plain fork() it understands. Only --config=tsan builds take this.
  const pid_t pid = fork();
  if (pid == 0) ChildMain(plan);
#else
  // Uninitialized: the child needs no zeroed stack, and zeroing 64 KiB per
  // child showed up in profiles of short command shards.
  std::unique_ptr<char[]> child_stack(new char[kChildStackBytes]);
  const pid_t pid = clone(ChildMain, child_stack.get() + kChildStackBytes,
                          CLONE_VM | CLONE_VFORK | SIGCHLD, plan);
#endif
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return absl::InternalError(StrCat("clone: ", strerror(clone_errno)));
  return pid;
}

// Reaps a child that has exited or will exit at once.
void ReapNow(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Waits until the child has exec'd (the report pipe closes with nothing in
// it) or failed to, and then reaps it.
absl::StatusOr<SpawnResult> AwaitExec(pid_t pid, const UniqueFd& report_r,
                                      const std::string& program) {
  SpawnResult result;
  result.pid = pid;
  SpawnFailure failure;
  ssize_t n;
  do {
    n = read(report_r.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == 0) return result;
  if (n != static_cast<ssize_t>(sizeof(failure))) {  // cannot really happen
    KillProcessGroup(pid);  // it may be running: do not wait for it to end
    ReapNow(pid);
    return absl::InternalError(
        StrCat("cannot start ", program, ": lost the child's report"));
  }
  ReapNow(pid);  // it has _exit()ed or is about to
  result.failure = failure;
  return result;
}

}  // namespace

std::string SpawnFailure::Describe() const {
  const std::string what = step == SpawnStep::kSetrlimit
                               ? StrCat("setrlimit(", RlimitName(resource), ")")
                               : StepName(step);
  return StrCat(what, " in the child: ", strerror(err));
}

absl::Status MakePipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(StrCat("pipe2: ", strerror(errno)));
  }
  UniqueFd ends[2] = {UniqueFd(fds[0]), UniqueFd(fds[1])};
  for (UniqueFd& end : ends) {
    if (end.get() > STDERR_FILENO) continue;
    const int moved = fcntl(end.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0) {
      return absl::InternalError(StrCat("fcntl(F_DUPFD): ", strerror(errno)));
    }
    end = UniqueFd(moved);
  }
  *read_end = std::move(ends[0]);
  *write_end = std::move(ends[1]);
  return absl::OkStatus();
}

void KillProcessGroup(pid_t pid) {
  if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
}

absl::StatusOr<SpawnResult> Spawn(const SpawnRequest& request) {
  if (request.argv.empty() || request.program.empty()) {
    return absl::InvalidArgumentError("empty argv");
  }
  std::vector<std::string> args = request.argv;
  const std::vector<char*> argv = CStrings(args);
  std::vector<std::string> env_entries;
  if (request.env.has_value()) {
    for (const auto& [name, value] : *request.env) {
      env_entries.push_back(StrCat(name, "=", value));
    }
  }
  const std::vector<char*> envp = CStrings(env_entries);

  // A stdio descriptor numbered 0..2 could be clobbered by another's dup2.
  UniqueFd moved_stdio[3];
  ChildPlan plan;
  for (int i = 0; i < 3; ++i) {
    plan.stdio[i] = request.stdio[i];
    if (plan.stdio[i] < 0 || plan.stdio[i] > STDERR_FILENO) continue;
    moved_stdio[i] =
        UniqueFd(fcntl(plan.stdio[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
    if (!moved_stdio[i].valid()) {
      return absl::InternalError(StrCat("fcntl(F_DUPFD): ", strerror(errno)));
    }
    plan.stdio[i] = moved_stdio[i].get();
  }
  UniqueFd report_r, report_w;
  if (absl::Status st = MakePipe(&report_r, &report_w); !st.ok()) return st;

  plan.program = request.program.c_str();
  plan.argv = argv.data();
  plan.envp = request.env.has_value() ? envp.data() : environ;
  plan.work_dir = request.work_dir.empty() ? nullptr : request.work_dir.c_str();
  plan.report_fd = report_w.get();
  plan.parent = getpid();
  plan.new_process_group = request.new_process_group;
  plan.close_other_fds = request.close_other_fds;
  plan.die_with_parent = request.die_with_parent;
  plan.keep_ignored_signals = request.keep_ignored_signals;
  sigemptyset(&plan.ignored);
  if (request.keep_ignored_signals) plan.ignored = IgnoredSignals();
  plan.rlimits = request.rlimits.data();
  plan.num_rlimits = request.rlimits.size();
  plan.max_fd = MaxFd();

  absl::StatusOr<pid_t> pid = CloneChild(&plan);
  if (!pid.ok()) return pid.status();
  // The child does this too; doing it here as well means the group exists
  // before the caller could signal it, whichever of us runs first. (EACCES:
  // the child has already exec'd, so it has done its own.)
  if (request.new_process_group) setpgid(*pid, *pid);
  report_w.Reset();  // so that the read below sees EOF at the exec
  return AwaitExec(*pid, report_r, request.program);
}

}  // namespace shardex
