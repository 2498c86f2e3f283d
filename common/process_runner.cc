#include "common/process_runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace shardex {

using absl::StrCat;

namespace {

using Kind = ProcessOutcome::Kind;

constexpr size_t kChunk = 64 << 10;      // one read or write of a pipe
constexpr size_t kStderrTail = 4 << 10;  // stderr kept for messages
// The longest poll() sleeps, so that `cancel` is seen within this.
constexpr absl::Duration kTick = absl::Milliseconds(20);
// How long pipes are drained after the child's group was killed. Only a
// descendant that left the group can hold them open longer.
constexpr absl::Duration kDrainGrace = absl::Seconds(1);
// How long we wait for killed group members reparented to us to die.
constexpr absl::Duration kGroupGrace = absl::Seconds(2);
// Deeper trees are left behind (and reported) rather than risk running out
// of file descriptors or stack while removing them.

std::string ErrnoText(int err) { return strerror(err); }

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status SetNonBlocking(const Fd& fd) {
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return absl::InternalError(StrCat("fcntl(O_NONBLOCK): ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

// A close-on-exec pipe whose ends are numbered 3 or above, so the child's
// dup2() onto 0/1/2 can never clobber one of them (a worker started with a
// closed stdin would otherwise get pipe ends numbered 0..2).
absl::Status MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(StrCat("pipe2: ", ErrnoText(errno)));
  }
  Fd ends[2] = {Fd(fds[0]), Fd(fds[1])};
  for (Fd& end : ends) {
    if (end.get() > STDERR_FILENO) continue;
    const int moved = fcntl(end.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0) {
      return absl::InternalError(StrCat("fcntl(F_DUPFD): ", ErrnoText(errno)));
    }
    end = Fd(moved);
  }
  *read_end = std::move(ends[0]);
  *write_end = std::move(ends[1]);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- the spec

bool HasNul(absl::string_view s) { return s.find('\0') != s.npos; }

absl::Status ValidateSpec(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return absl::InvalidArgumentError("empty argv");
  }
  // c_str() would silently cut such strings short.
  for (const std::string& arg : spec.argv) {
    if (HasNul(arg)) {
      return absl::InvalidArgumentError("an argument contains a NUL byte");
    }
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != name.npos || HasNul(name) ||
        HasNul(value)) {
      return absl::InvalidArgumentError(
          StrCat("bad environment variable: '", name, "'"));
    }
  }
  if (!spec.stdin_data.empty() && !spec.stdin_path.empty()) {
    return absl::InvalidArgumentError(
        "both stdin_data and stdin_path are set");
  }
  const std::string& out = spec.output_file_name;
  if (out.find('/') != out.npos || out == "." || out == ".." || HasNul(out)) {
    return absl::InvalidArgumentError(
        StrCat("output file name must be a plain file name: '", out, "'"));
  }
  return absl::OkStatus();
}

// Finds the file execve() should run: argv[0] itself if it holds a '/',
// else the first executable regular file of that name in the PATH of the
// child's environment, as execvp() would. Done in the parent because the
// child may make only async-signal-safe calls. The child's cwd will be
// `work_dir`, so relative entries (and "", meaning ".") are relative to it.
absl::StatusOr<std::string> ResolveProgram(const ProcessSpec& spec,
                                           const std::string& work_dir) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != name.npos) return name;
  const auto path = spec.env.find("PATH");
  if (path == spec.env.end()) {
    return absl::NotFoundError(StrCat("command not found: ", name,
                                      " (the environment has no PATH)"));
  }
  bool denied = false;
  for (absl::string_view dir : absl::StrSplit(path->second, ':')) {
    std::string candidate =
        dir.empty()        ? StrCat(work_dir, "/", name)
        : dir[0] == '/'    ? StrCat(dir, "/", name)
                           : StrCat(work_dir, "/", dir, "/", name);
    struct stat st;
    if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0) {
      return candidate;
    }
    denied = true;  // like execvp: keep looking, report EACCES at the end
  }
  if (denied) {
    return absl::PermissionDeniedError(
        StrCat("permission denied: ", name, " (found in PATH=", path->second,
               " but not executable)"));
  }
  return absl::NotFoundError(StrCat("command not found: ", name,
                                    " (searched PATH=", path->second, ")"));
}

// ------------------------------------------------------------ the work dir

absl::StatusOr<std::string> MakeWorkDir(const std::string& scratch_root) {
  std::string root = scratch_root;
  if (root.empty()) {
    const char* tmp = getenv("TMPDIR");
    root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  // Absolute, because the child resolves paths after its chdir into it.
  if (root[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::InternalError(StrCat("getcwd: ", ErrnoText(errno)));
    }
    root = StrCat(cwd, "/", root);
  }
  std::string dir = StrCat(root, "/shard-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(StrCat("cannot create a work dir under ", root,
                                      ": ", ErrnoText(errno)));
  }
  return dir;
}

// Returns "" or what was left behind.
std::string RemoveWorkDir(const std::string& work_dir) {
  absl::Status st = RemoveTree(work_dir);
  return st.ok() ? "" : std::string(st.message());
}

// --------------------------------------------------------------- the child

struct RlimitSetting {
  int resource;
  struct rlimit value;
};

// Everything the child needs, prepared before fork(): after it the child of
// a multi-threaded process may make only async-signal-safe calls (no
// allocation, no locks).
struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* work_dir = nullptr;
  int stdio[3] = {-1, -1, -1};  // pipe ends that become the child's 0, 1, 2
  int report_fd = -1;           // close-on-exec: carries a ChildFailure
  pid_t parent = 0;
  RlimitSetting rlimits[5] = {};
  int num_rlimits = 0;
  int max_fd = 0;  // for the fallback when close_range() is missing
};

enum class ChildStep : int {
  kSetpgid,
  kPdeathsig,
  kSetrlimit,
  kDup2,
  kChdir,
  kExec,
};

// What the child writes to the report pipe when it cannot exec.
struct ChildFailure {
  ChildStep step;
  int err;
  int detail;  // kSetrlimit: the resource
};

[[noreturn]] void FailInChild(const ChildPlan& plan, ChildStep step,
                              int detail = 0) {
  const ChildFailure failure = {step, errno, detail};
  (void)!write(plan.report_fd, &failure, sizeof(failure));
  _exit(127);
}

// Leaves only 0/1/2 open across exec. Marking the rest close-on-exec rather
// than closing them keeps the report pipe usable until execve succeeds.
void CloseInheritedFds(const ChildPlan& plan) {
  if (close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd = STDERR_FILENO + 1; fd < plan.max_fd; ++fd) {  // kernel < 5.11
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

[[noreturn]] void ExecChild(const ChildPlan& plan) {
  // Dispositions first, while the parent's fork-time mask still blocks every
  // signal, so none of the worker's handlers can run in here. Exec resets
  // handled signals anyway, but would keep ignored ones ignored (a child
  // ignoring SIGPIPE never stops writing to a closed pipe). The raw syscall
  // also reaches the two signals glibc's sigaction() refuses (32, 33), which
  // a worker may have inherited ignored; an all-zero kernel sigaction is
  // SIG_DFL whatever the architecture's layout.
  const unsigned long dfl[8] = {};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      syscall(SYS_rt_sigaction, sig, dfl, nullptr, (NSIG - 1) / 8);
    }
  }
  if (setpgid(0, 0) != 0) FailInChild(plan, ChildStep::kSetpgid);
  // Note: the signal comes when the forking *thread* exits; RunProcess keeps
  // that thread busy until the child is gone.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    FailInChild(plan, ChildStep::kPdeathsig);
  }
  if (getppid() != plan.parent) _exit(127);  // the worker died before prctl
  for (int i = 0; i < plan.num_rlimits; ++i) {
    const RlimitSetting& limit = plan.rlimits[i];
    if (setrlimit(limit.resource, &limit.value) != 0) {
      FailInChild(plan, ChildStep::kSetrlimit, limit.resource);
    }
  }
  for (int target = 0; target < 3; ++target) {
    if (dup2(plan.stdio[target], target) < 0) {
      FailInChild(plan, ChildStep::kDup2);
    }
  }
  if (chdir(plan.work_dir) != 0) FailInChild(plan, ChildStep::kChdir);
  CloseInheritedFds(plan);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.program, plan.argv, plan.envp);
  FailInChild(plan, ChildStep::kExec);
}

int ChildMain(void* plan) { ExecChild(*static_cast<const ChildPlan*>(plan)); }

// Enough for ExecChild, which keeps a few words on its stack.
constexpr size_t kChildStackBytes = 64 << 10;

// Adds a setrlimit() call to the plan, never above the worker's own hard
// limit: an unprivileged process could not raise it, and it is stricter.
void AddLimit(int resource, rlim_t soft, rlim_t hard, ChildPlan* plan) {
  struct rlimit current;
  if (getrlimit(resource, &current) == 0) {
    hard = std::min(hard, current.rlim_max);
  }
  plan->rlimits[plan->num_rlimits++] = {resource, {std::min(soft, hard), hard}};
}

void PlanLimits(const ResourceLimits& limits, ChildPlan* plan) {
  AddLimit(RLIMIT_CORE, 0, 0, plan);
  if (limits.address_space_bytes != 0) {
    AddLimit(RLIMIT_AS, limits.address_space_bytes, limits.address_space_bytes,
             plan);
  }
  // A hard limit one second above the soft one: at the soft limit the child
  // gets SIGXCPU, which names the cause; at the hard limit, SIGKILL. (With
  // soft == hard the kernel sends only SIGKILL.)
  if (limits.cpu_seconds != 0) {
    const rlim_t hard = std::max<rlim_t>(limits.cpu_seconds,
                                         limits.cpu_seconds + 1);  // no wrap
    AddLimit(RLIMIT_CPU, limits.cpu_seconds, hard, plan);
  }
  if (limits.file_size_bytes != 0) {
    AddLimit(RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes,
             plan);
  }
  if (limits.open_files != 0) {
    AddLimit(RLIMIT_NOFILE, limits.open_files, limits.open_files, plan);
  }
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

const char* StepName(ChildStep step) {
  switch (step) {
    case ChildStep::kSetpgid: return "setpgid";
    case ChildStep::kPdeathsig: return "prctl(PR_SET_PDEATHSIG)";
    case ChildStep::kSetrlimit: return "setrlimit";
    case ChildStep::kDup2: return "dup2";
    case ChildStep::kChdir: return "chdir to the work dir";
    case ChildStep::kExec: return "execve";
  }
  return "?";
}

absl::Status FailureStatus(const ChildFailure& failure,
                           const std::string& program,
                           const ResourceLimits& limits) {
  const std::string err = ErrnoText(failure.err);
  if (failure.step == ChildStep::kSetrlimit) {
    return absl::InternalError(StrCat("setrlimit(", RlimitName(failure.detail),
                                      ") in the child: ", err));
  }
  if (failure.step != ChildStep::kExec) {
    return absl::InternalError(
        StrCat(StepName(failure.step), " in the child: ", err));
  }
  struct stat st;
  switch (failure.err) {
    case ENOENT:
      if (stat(program.c_str(), &st) == 0) {  // the file is there after all
        return absl::NotFoundError(
            StrCat("cannot execute ", program,
                   ": its interpreter (#! line or ELF loader) was not found"));
      }
      return absl::NotFoundError(StrCat("command not found: ", program));
    case EACCES:
      return absl::PermissionDeniedError(
          StrCat("cannot execute ", program, ": ", err));
    case ENOMEM:
      if (limits.address_space_bytes != 0) {
        return absl::InternalError(StrCat(
            "cannot execute ", program, ": ", err, " (address-space limit ",
            limits.address_space_bytes, " bytes was set)"));
      }
      break;
  }
  return absl::InternalError(StrCat("cannot execute ", program, ": ", err));
}

// A started child: its pid (= its process group id) and our pipe ends.
struct Child {
  pid_t pid = 0;
  Fd stdin_w;
  Fd stdout_r;
  Fd stderr_r;
};

// A raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// SIGKILLs the child's whole process group. Only safe while the child is
// not yet reaped: until then its pid, the group id, cannot be reused.
void KillGroup(pid_t pid) {
  if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);  // in case of no group
}

// Reaps a child that has exited or will exit at once; returns its status.
int ReapNow(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Waits until the child has exec'd (the report pipe closes with nothing in
// it) or failed to; on failure reaps it and returns why.
absl::Status AwaitExec(pid_t pid, Fd report_r, const std::string& program,
                       const ResourceLimits& limits) {
  ChildFailure failure;
  ssize_t n;
  do {
    n = read(report_r.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == 0) return absl::OkStatus();
  if (n != static_cast<ssize_t>(sizeof(failure))) {  // cannot really happen
    KillGroup(pid);  // it may be running: do not wait for it to finish
    ReapNow(pid);
    return absl::InternalError(StrCat("cannot start ", program,
                                      ": lost the child's report"));
  }
  ReapNow(pid);  // it has _exit()ed or is about to
  return FailureStatus(failure, program, limits);
}

absl::StatusOr<Child> StartChild(const ProcessSpec& spec,
                                 const std::string& program,
                                 const std::string& work_dir) {
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_entries;
  for (const auto& [name, value] : spec.env) {
    env_entries.push_back(StrCat(name, "=", value));
  }
  std::vector<char*> envp;
  for (std::string& entry : env_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);

  Child child;
  Fd stdin_r, stdout_w, stderr_w, report_r, report_w;
  RETURN_IF_ERROR(MakePipe(&stdin_r, &child.stdin_w));
  RETURN_IF_ERROR(MakePipe(&child.stdout_r, &stdout_w));
  RETURN_IF_ERROR(MakePipe(&child.stderr_r, &stderr_w));
  RETURN_IF_ERROR(MakePipe(&report_r, &report_w));
  RETURN_IF_ERROR(SetNonBlocking(child.stdin_w));  // before fork: no child
  RETURN_IF_ERROR(SetNonBlocking(child.stdout_r));  // to clean up on error
  RETURN_IF_ERROR(SetNonBlocking(child.stderr_r));

  ChildPlan plan;
  plan.program = program.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.work_dir = work_dir.c_str();
  plan.stdio[0] = stdin_r.get();
  plan.stdio[1] = stdout_w.get();
  plan.stdio[2] = stderr_w.get();
  plan.report_fd = report_w.get();
  plan.parent = getpid();
  PlanLimits(spec.limits, &plan);
  struct rlimit nofile;
  plan.max_fd = getrlimit(RLIMIT_NOFILE, &nofile) == 0
                    ? static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20))
                    : 1 << 16;

  // Block every signal across the clone so that no handler of the worker
  // runs in the child before ExecChild resets the dispositions.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // Like posix_spawn: CLONE_VM | CLONE_VFORK lends the child our memory
  // until it execs (this thread waits meanwhile), so starting a child does
  // not copy the page tables of a large multi-threaded worker, which made
  // fork() cost milliseconds per shard. The child runs only
  // async-signal-safe calls on its own stack and reads `plan`.
#if defined(SHARDEX_TSAN)  // --config=tsan
  // ThreadSanitizer cannot follow a child sharing our memory: its runtime
  // state (this thread's, in the same TLS) gets corrupted, which shows up
  // as false races and "starting new threads after multi-threaded fork".
  // A plain fork() it understands. Only --config=tsan builds take this.
  const pid_t pid = fork();
  if (pid == 0) ChildMain(&plan);
#else
  std::vector<char> child_stack(kChildStackBytes);
  const pid_t pid =
      clone(ChildMain, child_stack.data() + child_stack.size(),
            CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
#endif
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return absl::InternalError(StrCat("clone: ", ErrnoText(fork_errno)));
  // The child does this too; doing it here as well means the group exists
  // before we could signal it, whichever of us runs first. (EACCES: the
  // child has already exec'd, so it has done its own.)
  setpgid(pid, pid);
  child.pid = pid;
  stdin_r.Reset();  // our copies of the child's ends, so EOF can happen
  stdout_w.Reset();
  stderr_w.Reset();
  report_w.Reset();
  RETURN_IF_ERROR(AwaitExec(pid, std::move(report_r), program, spec.limits));
  return child;
}

// ------------------------------------------------------------------- stdin

// Feeds the child's stdin from memory or from a slice of a file, a chunk at
// a time, so that a file slice never has to fit in memory.
class StdinFeeder {
 public:
  enum class State { kMore, kDone, kFailed };

  StdinFeeder() = default;
  StdinFeeder(const StdinFeeder&) = delete;
  StdinFeeder& operator=(const StdinFeeder&) = delete;

  // Before the child starts, so a bad file is a start error.
  absl::Status Init(const ProcessSpec& spec);

  // Writes what the non-blocking `pipe_fd` will take. kDone: everything was
  // written, or the child closed its stdin (it may stop reading early).
  State Pump(int pipe_fd);
  const absl::Status& error() const { return error_; }

 private:
  bool Refill();  // the next chunk of the file into pending_

  absl::string_view pending_;
  Fd file_;
  std::string path_;
  uint64_t next_offset_ = 0;
  uint64_t remaining_ = 0;
  std::string buffer_;
  absl::Status error_;
};

absl::Status StdinFeeder::Init(const ProcessSpec& spec) {
  if (spec.stdin_path.empty()) {
    pending_ = spec.stdin_data;
    return absl::OkStatus();
  }
  path_ = spec.stdin_path;
  file_ = Fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!file_.valid() || fstat(file_.get(), &st) != 0) {
    return absl::InternalError(
        StrCat("cannot open stdin file ", path_, ": ", ErrnoText(errno)));
  }
  // A slice past the end means the file is not the one the split was made
  // from; feeding less than asked would quietly produce a wrong result.
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint64_t offset = spec.stdin_offset;
  if (offset > size || (spec.stdin_length != ProcessSpec::kToEndOfFile &&
                        spec.stdin_length > size - offset)) {
    return absl::InvalidArgumentError(
        StrCat("stdin slice at offset ", offset, " of length ",
               spec.stdin_length, " is past the end of ", path_, " (", size,
               " bytes)"));
  }
  next_offset_ = offset;
  remaining_ = spec.stdin_length == ProcessSpec::kToEndOfFile
                   ? size - offset
                   : spec.stdin_length;
  return absl::OkStatus();
}

bool StdinFeeder::Refill() {
  if (!file_.valid() || remaining_ == 0) return false;
  buffer_.resize(std::min<uint64_t>(kChunk, remaining_));
  ssize_t n;
  do {
    n = pread(file_.get(), buffer_.data(), buffer_.size(), next_offset_);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    error_ = absl::InternalError(
        StrCat("reading stdin file ", path_, " at offset ", next_offset_, ": ",
               n == 0 ? "unexpected end of file" : ErrnoText(errno)));
    return false;
  }
  next_offset_ += n;
  remaining_ -= n;
  pending_ = absl::string_view(buffer_.data(), n);
  return true;
}

StdinFeeder::State StdinFeeder::Pump(int pipe_fd) {
  while (true) {
    if (pending_.empty() && !Refill()) {
      return error_.ok() ? State::kDone : State::kFailed;
    }
    const ssize_t n =
        write(pipe_fd, pending_.data(), std::min(pending_.size(), kChunk));
    if (n > 0) {
      pending_.remove_prefix(n);
    } else if (errno == EAGAIN) {
      return State::kMore;
    } else if (errno != EINTR) {
      return State::kDone;  // EPIPE: the child will not read more
    }
  }
}

// Blocks SIGPIPE on this thread for its lifetime, so writing to a child that
// closed its stdin gives EPIPE instead of killing the worker; then discards
// the SIGPIPE such a write left pending.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const struct timespec zero = {0, 0};
      sigtimedwait(&pipe_only, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  bool was_pending_ = false;
  sigset_t old_;
};

// ------------------------------------------------------- the parent's loop

// The parent's side of a running child: one poll() loop that feeds stdin,
// drains stdout and stderr, and enforces the output cap, the timeout and
// cancellation, until the child has exited (and its group been killed) and
// its pipes are drained. Does not reap the child.
class Supervisor {
 public:
  Supervisor(const ProcessSpec& spec, Child* child, StdinFeeder* feeder,
             ProcessOutcome* out);

  void Run(const std::atomic<bool>& cancel);

  // Why we killed the child, if we did.
  std::optional<Kind> stopped() const { return stopped_; }
  // Set if the stdin file failed while being read.
  const absl::Status& input_error() const { return feeder_->error(); }

 private:
  void Stop(Kind why);
  void Overflow(const char* stream);
  void OnChildExited();
  bool ChildHasExited() const;  // when there is no pidfd to poll
  int PollTimeoutMs(absl::Time now) const;
  void PollOnce(absl::Time now);
  void FeedStdin();
  absl::string_view ReadChunk(Fd* fd);
  void ReadStdout();
  void ReadStderr();

  const pid_t pid_;
  const uint64_t cap_;
  const std::optional<absl::Time> deadline_;
  Fd stdin_, stdout_, stderr_, pidfd_;
  StdinFeeder* feeder_;
  ProcessOutcome* out_;
  std::string buffer_;
  uint64_t stderr_bytes_ = 0;
  std::optional<Kind> stopped_;
  bool exited_ = false;
  absl::Time drain_deadline_ = absl::InfiniteFuture();
};

Supervisor::Supervisor(const ProcessSpec& spec, Child* child,
                       StdinFeeder* feeder, ProcessOutcome* out)
    : pid_(child->pid),
      cap_(spec.max_output_bytes),
      deadline_(spec.timeout > absl::ZeroDuration()
                    ? std::optional<absl::Time>(absl::Now() + spec.timeout)
                    : std::nullopt),
      stdin_(std::move(child->stdin_w)),
      stdout_(std::move(child->stdout_r)),
      stderr_(std::move(child->stderr_r)),
      // Readable once the child exits, so poll() wakes at once even while a
      // grandchild holds stdout open. Without it (kernel < 5.3, seccomp),
      // we look with waitid() every tick.
      pidfd_(PidfdOpen(child->pid)),
      feeder_(feeder),
      out_(out),
      buffer_(kChunk, '\0') {}

void Supervisor::Run(const std::atomic<bool>& cancel) {
  while (true) {
    const absl::Time now = absl::Now();
    const bool cancelled = cancel.load(std::memory_order_relaxed);
    if (!exited_) {
      if (cancelled) {
        Stop(Kind::kCancelled);
      } else if (deadline_.has_value() && now >= *deadline_) {
        Stop(Kind::kTimedOut);
      }
    } else if (!stdout_.valid() && !stderr_.valid()) {
      return;
    } else if (cancelled) {
      Stop(Kind::kCancelled);  // its output is incomplete: not a result
      return;
    } else if (now >= drain_deadline_) {
      return;  // a descendant that left the group holds a pipe open
    }
    PollOnce(now);
  }
}

void Supervisor::Stop(Kind why) {
  if (stopped_.has_value()) return;
  stopped_ = why;
  if (!exited_) KillGroup(pid_);  // after the exit it has been done already
}

void Supervisor::OnChildExited() {
  exited_ = true;
  // Even after a normal exit: background processes left in its group would
  // otherwise live on as orphans. The unreaped child still holds the group
  // id, so this cannot hit a new group that reused it.
  KillGroup(pid_);
  stdin_.Reset();
  pidfd_.Reset();
  drain_deadline_ = absl::Now() + kDrainGrace;
}

bool Supervisor::ChildHasExited() const {
  siginfo_t info = {};
  const int r = waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT);
  return (r == 0 && info.si_pid == pid_) || (r < 0 && errno == ECHILD);
}

int Supervisor::PollTimeoutMs(absl::Time now) const {
  absl::Duration wait = kTick;
  if (!exited_ && deadline_.has_value()) wait = std::min(wait, *deadline_ - now);
  if (exited_) wait = std::min(wait, drain_deadline_ - now);
  wait = std::max(wait, absl::ZeroDuration());
  return static_cast<int>(absl::Ceil(wait, absl::Milliseconds(1)) /
                          absl::Milliseconds(1));
}

void Supervisor::PollOnce(absl::Time now) {
  // Slots: stdin, stdout, stderr, pidfd; fd -1 makes poll() skip a slot.
  struct pollfd fds[4] = {
      {stdin_.get(), POLLOUT, 0},
      {stdout_.get(), POLLIN, 0},
      {stderr_.get(), POLLIN, 0},
      {pidfd_.get(), POLLIN, 0},
  };
  const int ready = poll(fds, 4, PollTimeoutMs(now));
  if (ready < 0 && errno != EINTR) {
    absl::SleepFor(kTick);  // ENOMEM: do not spin; the tick checks go on
    return;
  }
  if (fds[0].revents != 0) FeedStdin();
  if (fds[1].revents != 0) ReadStdout();
  if (fds[2].revents != 0) ReadStderr();
  if (!exited_ && (pidfd_.valid() ? fds[3].revents != 0 : ChildHasExited())) {
    OnChildExited();
  }
}

void Supervisor::FeedStdin() {
  switch (feeder_->Pump(stdin_.get())) {
    case StdinFeeder::State::kMore:
      return;
    case StdinFeeder::State::kDone:
      stdin_.Reset();  // the child sees EOF
      return;
    case StdinFeeder::State::kFailed:
      // A child fed part of its input could "succeed" with a wrong result.
      stdin_.Reset();
      if (!exited_) KillGroup(pid_);
      return;
  }
}

// Reads what one pipe has ready; closes it at EOF.
absl::string_view Supervisor::ReadChunk(Fd* fd) {
  ssize_t n;
  do {
    n = read(fd->get(), buffer_.data(), buffer_.size());
  } while (n < 0 && errno == EINTR);
  if (n > 0) return absl::string_view(buffer_.data(), n);
  if (n == 0 || errno != EAGAIN) fd->Reset();
  return absl::string_view();
}

void Supervisor::ReadStdout() {
  const absl::string_view data = ReadChunk(&stdout_);
  const uint64_t room = cap_ - out_->stdout_data.size();
  if (data.size() <= room) {
    out_->stdout_data.append(data.data(), data.size());
    return;
  }
  out_->stdout_data.append(data.data(), room);
  Overflow("stdout");
  stdout_.Reset();  // we want no more of it
}

void Supervisor::ReadStderr() {
  const absl::string_view data = ReadChunk(&stderr_);
  stderr_bytes_ += data.size();
  std::string& tail = out_->stderr_tail;
  tail.append(data.data(), data.size());
  if (tail.size() > kStderrTail) tail.erase(0, tail.size() - kStderrTail);
  if (stderr_bytes_ > cap_) {
    Overflow("stderr");
    stderr_.Reset();
  }
}

void Supervisor::Overflow(const char* stream) {
  if (stopped_.has_value()) return;  // already stopped for another reason
  out_->overflowed = stream;
  Stop(Kind::kOutputTooLarge);
}

// ------------------------------------------------------ after the child ends

absl::Duration ToDuration(const struct timeval& tv) {
  return absl::Seconds(tv.tv_sec) + absl::Microseconds(tv.tv_usec);
}

// Reaps the exited child, recording how it ended and its CPU time.
absl::Status ReapChild(pid_t pid, ProcessOutcome* out) {
  int status = 0;
  struct rusage usage = {};
  pid_t r;
  do {
    r = wait4(pid, &status, 0, &usage);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    return absl::InternalError(
        StrCat("waiting for child ", pid, ": ", ErrnoText(errno),
               " (does something else in the worker reap children?)"));
  }
  out->cpu = ToDuration(usage.ru_utime) + ToDuration(usage.ru_stime);
  if (WIFEXITED(status)) {
    out->kind = Kind::kExited;
    out->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out->kind = Kind::kSignaled;
    out->signal = WTERMSIG(status);
  }
  return absl::OkStatus();
}

// The group was SIGKILLed before the child was reaped. Its other members
// are reparented to init -- or to us, if the worker is a child subreaper
// (PR_SET_CHILD_SUBREAPER), and then we must reap them or they stay zombies.
void ReapGroup(pid_t pgid) {
  int subreaper = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) != 0 || !subreaper) return;
  const absl::Time give_up = absl::Now() + kGroupGrace;
  while (true) {
    while (waitpid(-pgid, nullptr, WNOHANG) > 0) {
    }
    // Signal 0 only checks: the group id may already belong to a new group.
    if (kill(-pgid, 0) != 0 && errno == ESRCH) return;
    if (absl::Now() >= give_up) return;  // e.g. stuck in the kernel (D state)
    absl::SleepFor(absl::Milliseconds(1));
  }
}

// Returns the output file's bytes if the child left one, or marks the
// outcome kOutputTooLarge. Never follows a symlink the child left there.
absl::Status ReadOutputFile(const ProcessSpec& spec, ProcessOutcome* out) {
  const std::string path = StrCat(out->work_dir, "/", spec.output_file_name);
  Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::OkStatus();  // none, or not a plain file: no output file
  }
  std::string data;
  char buffer[kChunk];
  while (true) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          StrCat("reading the output file ", path, ": ", ErrnoText(errno)));
    }
    if (data.size() + n > spec.max_output_bytes) {
      out->kind = Kind::kOutputTooLarge;
      out->overflowed = StrCat("output file '", spec.output_file_name, "'");
      return absl::OkStatus();
    }
    data.append(buffer, n);
  }
  out->output_file = std::move(data);
  return absl::OkStatus();
}

// Everything between creating the work dir and removing it.
absl::Status RunInWorkDir(const ProcessSpec& spec,
                          const std::atomic<bool>& cancel, StdinFeeder* feeder,
                          ProcessOutcome* out) {
  ASSIGN_OR_RETURN(const std::string program,
                   ResolveProgram(spec, out->work_dir));
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(Child child, StartChild(spec, program, out->work_dir));
  out->pid = child.pid;
  Supervisor supervisor(spec, &child, feeder, out);
  {
    SigpipeGuard sigpipe_guard;
    supervisor.Run(cancel);
  }
  RETURN_IF_ERROR(ReapChild(child.pid, out));
  ReapGroup(child.pid);
  out->wall = absl::Now() - start;
  RETURN_IF_ERROR(supervisor.input_error());
  if (supervisor.stopped().has_value()) {
    out->kind = *supervisor.stopped();
    return absl::OkStatus();
  }
  if (out->ok() && !spec.output_file_name.empty()) {
    return ReadOutputFile(spec, out);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Describe

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? StrCat("SIG", abbrev) : StrCat("signal ", sig);
}

std::string CpuLimitText(const ResourceLimits& limits) {
  return limits.cpu_seconds != 0
             ? StrCat("CPU time limit of ", limits.cpu_seconds, " s exceeded")
             : "CPU time limit exceeded";
}

std::string FileSizeLimitText(const ResourceLimits& limits) {
  return limits.file_size_bytes != 0
             ? StrCat("file size limit of ", limits.file_size_bytes,
                      " bytes exceeded")
             : "file size limit exceeded";
}

// Running out of address space shows up as SIGSEGV, SIGABRT or an error
// exit, none of which says why; the note points at the likely cause.
std::string AddressSpaceNote(const ResourceLimits& limits) {
  return StrCat(" (address-space limit ", limits.address_space_bytes,
                " bytes was set)");
}

std::string DescribeSignal(const ProcessOutcome& o) {
  const ResourceLimits& limits = o.limits;
  if (o.signal == SIGXCPU) return StrCat(CpuLimitText(limits), " (SIGXCPU)");
  if (o.signal == SIGXFSZ) {
    return StrCat(FileSizeLimitText(limits), " (SIGXFSZ)");
  }
  // A child that ignores SIGXCPU is SIGKILLed a second later (hard limit).
  if (o.signal == SIGKILL && limits.cpu_seconds != 0 &&
      o.cpu >= absl::Seconds(limits.cpu_seconds)) {
    return StrCat(CpuLimitText(limits), " (SIGKILL at the hard limit)");
  }
  std::string text =
      StrCat("killed by signal ", o.signal, " (", SignalName(o.signal), ")");
  if (limits.address_space_bytes != 0 &&
      (o.signal == SIGSEGV || o.signal == SIGABRT)) {
    absl::StrAppend(&text, AddressSpaceNote(limits));
  }
  return text;
}

// A shell reports a command that died of signal N as exit code 128+N, so
// name the limit behind the two signals that say which one was hit.
std::string DescribeExit(const ProcessOutcome& o) {
  std::string text = StrCat("exit code ", o.exit_code);
  if (o.exit_code == 128 + SIGXCPU && o.limits.cpu_seconds != 0) {
    absl::StrAppend(&text, " (a shell's 128+SIGXCPU: ", CpuLimitText(o.limits),
                    ")");
  } else if (o.exit_code == 128 + SIGXFSZ && o.limits.file_size_bytes != 0) {
    absl::StrAppend(&text, " (a shell's 128+SIGXFSZ: ",
                    FileSizeLimitText(o.limits), ")");
  }
  if (o.exit_code != 0 && o.limits.address_space_bytes != 0) {
    absl::StrAppend(&text, AddressSpaceNote(o.limits));
  }
  return text;
}

}  // namespace

std::string ProcessOutcome::Describe() const {
  switch (kind) {
    case Kind::kExited:
      return DescribeExit(*this);
    case Kind::kSignaled:
      return DescribeSignal(*this);
    case Kind::kTimedOut:
      return StrCat("timed out after ", absl::FormatDuration(timeout),
                    " (--shard-timeout)");
    case Kind::kOutputTooLarge:
      return StrCat(overflowed, " exceeded the output cap of ",
                    max_output_bytes, " bytes (--max-output)");
    case Kind::kCancelled:
      return "cancelled";
  }
  return "unknown outcome";
}

absl::StatusOr<ProcessOutcome> RunProcess(const ProcessSpec& spec,
                                          const std::atomic<bool>& cancel) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  StdinFeeder feeder;
  RETURN_IF_ERROR(feeder.Init(spec));
  ASSIGN_OR_RETURN(std::string work_dir, MakeWorkDir(spec.scratch_root));
  ProcessOutcome out;
  out.work_dir = std::move(work_dir);
  out.limits = spec.limits;
  out.timeout = spec.timeout;
  out.max_output_bytes = spec.max_output_bytes;
  const absl::Status status = RunInWorkDir(spec, cancel, &feeder, &out);
  out.cleanup_error = RemoveWorkDir(out.work_dir);
  if (!status.ok()) return status;
  return out;
}

}  // namespace shardex
