#include "common/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shardex {

namespace {

// Opens `path` for appending; leaves *fd at -1 for an empty path.
absl::Status OpenOutput(const std::string& path, int* fd) {
  if (path.empty()) return absl::OkStatus();
  *fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (*fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int out_fd = -1, err_fd = -1;
  absl::Status opened = OpenOutput(options.stdout_file, &out_fd);
  if (opened.ok()) opened = OpenOutput(options.stderr_file, &err_fd);
  auto close_outputs = [&] {
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
  };
  if (!opened.ok()) {
    close_outputs();
    return opened;
  }
  // A pipe closed on exec reports an exec failure back to the parent.
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close_outputs();
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(err_pipe[0]);
    close(err_pipe[1]);
    close_outputs();
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {  // child: only async-signal-safe calls from here
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (options.die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // parent already gone
    }
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
    execv(cargv[0], cargv.data());
    int e = errno;
    (void)!write(err_pipe[1], &e, sizeof(e));
    _exit(127);
  }
  close(err_pipe[1]);
  close_outputs();
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(err_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(err_pipe[0]);
  std::unique_ptr<Subprocess> p(new Subprocess(pid));
  if (n > 0) {
    p->Wait(absl::Seconds(5)).IgnoreError();
    return absl::InternalError(
        absl::StrCat("cannot run ", argv[0], ": ", strerror(child_errno)));
  }
  return p;
}

Subprocess::~Subprocess() {
  if (!wait_status_.has_value()) Stop(absl::ZeroDuration());
}

bool Subprocess::TryReap() {
  if (wait_status_.has_value()) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    wait_status_ = status;
    return true;
  }
  if (r < 0 && errno == ECHILD) {  // reaped elsewhere
    wait_status_ = 0;
    return true;
  }
  return false;
}

bool Subprocess::running() { return !TryReap(); }

void Subprocess::Signal(int signo) {
  if (!TryReap()) kill(pid_, signo);
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration nap = absl::Milliseconds(1);
  while (!TryReap()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running"));
    }
    absl::SleepFor(nap);
    nap = std::min(nap * 2, absl::Milliseconds(20));
  }
  return *wait_status_;
}

int Subprocess::Stop(absl::Duration grace) {
  if (grace > absl::ZeroDuration()) {
    Signal(SIGTERM);
    absl::StatusOr<int> st = Wait(grace);
    if (st.ok()) return *st;
  }
  Signal(SIGKILL);
  while (!TryReap()) {
    int status = 0;
    if (waitpid(pid_, &status, 0) == pid_) wait_status_ = status;
  }
  return *wait_status_;
}

}  // namespace shardex
