#include "common/process_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/child_supervisor.h"
#include "common/file_util.h"
#include "common/spawn.h"
#include "common/status_macros.h"
#include "common/stdin_feeder.h"
#include "common/text_checks.h"
#include "common/unique_fd.h"

namespace shardex {

using absl::StrCat;

namespace {

using Kind = ProcessOutcome::Kind;

constexpr size_t kChunk = 64 << 10;  // one read of the output file
// How long we wait for killed group members reparented to us to die.
constexpr absl::Duration kGroupGrace = absl::Seconds(2);

// ---------------------------------------------------------------- the spec

bool IsPlainName(const std::string& name) {
  return !name.empty() && name.find('/') == name.npos && name != "." &&
         name != ".." && !HasNul(name);
}

absl::Status ValidateLinks(const ProcessSpec& spec) {
  std::vector<std::string> names;
  for (const ProcessSpec::Link& link : spec.links) {
    if (!IsPlainName(link.name) || link.name == spec.output_file_name) {
      return absl::InvalidArgumentError(
          StrCat("work dir link name must be a plain file name other than "
                 "the output file's: '", link.name, "'"));
    }
    if (link.target.empty() || HasNul(link.target)) {
      return absl::InvalidArgumentError(
          StrCat("bad target for work dir link '", link.name, "'"));
    }
    names.push_back(link.name);
  }
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
    return absl::InvalidArgumentError("work dir link names repeat");
  }
  return absl::OkStatus();
}

absl::Status ValidateSpec(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return absl::InvalidArgumentError("empty argv");
  }
  if (HasNul(spec.program)) {
    return absl::InvalidArgumentError("the program path contains a NUL byte");
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
  return ValidateLinks(spec);
}

// Before the child starts, so that a bad stdin file is a start error.
absl::Status InitFeeder(const ProcessSpec& spec, StdinFeeder* feeder) {
  if (spec.stdin_path.empty()) {
    feeder->FeedMemory(spec.stdin_data);
    return absl::OkStatus();
  }
  return feeder->FeedFileSlice(
      spec.stdin_path, spec.stdin_offset,
      spec.stdin_length == ProcessSpec::kToEndOfFile
          ? std::nullopt
          : std::optional<uint64_t>(spec.stdin_length));
}

// What execve() would make of `candidate`, checked as execvp() does.
enum class Probe { kMissing, kDenied, kRunnable };
Probe ProbeProgram(const std::string& candidate) {
  struct stat st;
  if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Probe::kMissing;
  }
  return faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0
             ? Probe::kRunnable
             : Probe::kDenied;
}

// Finds the file execve() should run: spec.program when the caller found
// it, argv[0] itself if it holds a '/', else the first executable regular
// file of that name in the PATH of the child's environment, as execvp()
// would. Done in the parent because the child may make only
// async-signal-safe calls. The child's cwd will be `work_dir`, so relative
// entries (and "", meaning ".") are relative to it.
absl::StatusOr<std::string> ResolveProgram(const ProcessSpec& spec,
                                           const std::string& work_dir) {
  if (!spec.program.empty()) return spec.program;
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
    switch (ProbeProgram(candidate)) {
      case Probe::kRunnable:
        return candidate;
      case Probe::kDenied:
        denied = true;  // like execvp: keep looking, report EACCES at the end
        break;
      case Probe::kMissing:
        break;
    }
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

absl::Status MakeLinks(const ProcessSpec& spec, const std::string& work_dir) {
  for (const ProcessSpec::Link& link : spec.links) {
    const std::string path = StrCat(work_dir, "/", link.name);
    if (symlink(link.target.c_str(), path.c_str()) != 0) {
      return absl::InternalError(StrCat("cannot link ", path, " to ",
                                        link.target, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// Removes the links MakeLinks made that are still symlinks, so that a dir
// the child left otherwise empty can be reused (WorkDirSource); whatever
// the child put in their place stays, for the source to deal with.
void UnlinkLinks(const ProcessSpec& spec, const std::string& work_dir) {
  for (const ProcessSpec::Link& link : spec.links) {
    const std::string path = StrCat(work_dir, "/", link.name);
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      unlink(path.c_str());
    }
  }
}

// Returns "" or what was left behind.
std::string RemoveWorkDir(const std::string& work_dir) {
  absl::Status st = RemoveTree(work_dir);
  return st.ok() ? "" : std::string(st.message());
}

// --------------------------------------------------------------- the child

// A setrlimit() for the child, never above this process's own hard limit:
// an unprivileged process could not raise it, and it is stricter.
RlimitSetting Limit(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit current;
  if (getrlimit(resource, &current) == 0) {
    hard = std::min(hard, current.rlim_max);
  }
  return {resource, {std::min(soft, hard), hard}};
}

std::vector<RlimitSetting> PlanLimits(const ResourceLimits& limits) {
  std::vector<RlimitSetting> plan = {Limit(RLIMIT_CORE, 0, 0)};
  if (limits.address_space_bytes != 0) {
    plan.push_back(Limit(RLIMIT_AS, limits.address_space_bytes,
                         limits.address_space_bytes));
  }
  // A hard limit one second above the soft one: at the soft limit the child
  // gets SIGXCPU, which names the cause; at the hard limit, SIGKILL. (With
  // soft == hard the kernel sends only SIGKILL.)
  if (limits.cpu_seconds != 0) {
    const rlim_t hard = std::max<rlim_t>(limits.cpu_seconds,
                                         limits.cpu_seconds + 1);  // no wrap
    plan.push_back(Limit(RLIMIT_CPU, limits.cpu_seconds, hard));
  }
  if (limits.file_size_bytes != 0) {
    plan.push_back(Limit(RLIMIT_FSIZE, limits.file_size_bytes,
                         limits.file_size_bytes));
  }
  if (limits.open_files != 0) {
    plan.push_back(Limit(RLIMIT_NOFILE, limits.open_files, limits.open_files));
  }
  return plan;
}

// Why the child could not run `program`, in a user program's terms.
absl::Status StartFailure(const SpawnFailure& failure,
                          const std::string& program,
                          const ResourceLimits& limits) {
  if (failure.step != SpawnStep::kExec) {
    return absl::InternalError(failure.Describe());
  }
  const std::string err = strerror(failure.err);
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
        return absl::InternalError(StrCat("cannot execute ", program, ": ",
                                          err, AddressSpaceNote(limits)));
      }
      break;
  }
  return absl::InternalError(StrCat("cannot execute ", program, ": ", err));
}

absl::Status SetNonBlocking(const UniqueFd& fd) {
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return absl::InternalError(StrCat("fcntl(O_NONBLOCK): ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Starts the isolated child; on success returns its pid (= its process
// group id) with our ends of its stdio pipes in `pipes`.
absl::StatusOr<pid_t> StartChild(const ProcessSpec& spec,
                                 const std::string& program,
                                 const std::string& work_dir,
                                 ChildPipes* pipes) {
  UniqueFd stdin_r, stdout_w, stderr_w;
  RETURN_IF_ERROR(MakePipe(&stdin_r, &pipes->stdin_w));
  RETURN_IF_ERROR(MakePipe(&pipes->stdout_r, &stdout_w));
  RETURN_IF_ERROR(MakePipe(&pipes->stderr_r, &stderr_w));
  RETURN_IF_ERROR(SetNonBlocking(pipes->stdin_w));  // before the clone: no
  RETURN_IF_ERROR(SetNonBlocking(pipes->stdout_r));  // child to clean up
  RETURN_IF_ERROR(SetNonBlocking(pipes->stderr_r));  // after an error

  SpawnRequest request;
  request.program = program;
  request.argv = spec.argv;
  request.env = spec.env;
  request.work_dir = work_dir;
  request.stdio[0] = stdin_r.get();
  request.stdio[1] = stdout_w.get();
  request.stdio[2] = stderr_w.get();
  request.new_process_group = true;
  request.close_other_fds = true;
  request.keep_ignored_signals = false;
  request.die_with_parent = true;
  request.rlimits = PlanLimits(spec.limits);
  ASSIGN_OR_RETURN(const SpawnResult started, Spawn(request));
  if (started.failure.has_value()) {
    return StartFailure(*started.failure, program, spec.limits);
  }
  return started.pid;  // our copies of the child's ends close: EOF can come
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
        StrCat("waiting for child ", pid, ": ", strerror(errno),
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
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
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
          StrCat("reading the output file ", path, ": ", strerror(errno)));
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
                          const std::atomic<bool>& cancel, int cancel_fd,
                          StdinFeeder* feeder, ProcessOutcome* out) {
  RETURN_IF_ERROR(MakeLinks(spec, out->work_dir));
  ASSIGN_OR_RETURN(const std::string program,
                   ResolveProgram(spec, out->work_dir));
  const absl::Time start = absl::Now();
  ChildPipes pipes;
  ASSIGN_OR_RETURN(const pid_t pid,
                   StartChild(spec, program, out->work_dir, &pipes));
  out->pid = pid;
  ChildSupervisor supervisor(pid, std::move(pipes), feeder,
                             spec.max_output_bytes, spec.timeout, out,
                             cancel_fd);
  supervisor.Run(cancel);
  RETURN_IF_ERROR(ReapChild(pid, out));
  ReapGroup(pid);
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

}  // namespace

std::optional<std::string> FindProgramAnywhere(
    const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.empty() || HasNul(name)) return std::nullopt;
  if (name[0] == '/') return name;
  if (name.find('/') != name.npos) return std::nullopt;  // work-dir relative
  const auto path = env.find("PATH");
  if (path == env.end()) return std::nullopt;
  for (absl::string_view dir : absl::StrSplit(path->second, ':')) {
    if (dir.empty() || dir[0] != '/') return std::nullopt;  // work-dir relative
    std::string candidate = StrCat(dir, "/", name);
    switch (ProbeProgram(candidate)) {
      case Probe::kRunnable:
        return candidate;
      case Probe::kDenied:
        return std::nullopt;  // RunProcess names the error, per run
      case Probe::kMissing:
        break;
    }
  }
  return std::nullopt;
}

absl::StatusOr<ProcessOutcome> RunProcess(const ProcessSpec& spec,
                                          const std::atomic<bool>& cancel,
                                          int cancel_fd) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  StdinFeeder feeder;
  RETURN_IF_ERROR(InitFeeder(spec, &feeder));
  ASSIGN_OR_RETURN(std::string work_dir,
                   spec.work_dirs != nullptr ? spec.work_dirs->Acquire()
                                             : MakeWorkDir(spec.scratch_root));
  ProcessOutcome out;
  out.work_dir = std::move(work_dir);
  out.limits = spec.limits;
  out.timeout = spec.timeout;
  out.max_output_bytes = spec.max_output_bytes;
  const absl::Status status =
      RunInWorkDir(spec, cancel, cancel_fd, &feeder, &out);
  if (spec.work_dirs != nullptr) {
    UnlinkLinks(spec, out.work_dir);  // an --upload shard's dir can be reused
    spec.work_dirs->Release(out.work_dir);
  } else {
    out.cleanup_error = RemoveWorkDir(out.work_dir);
  }
  if (!status.ok()) return status;
  return out;
}

}  // namespace shardex
