#include "common/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/spawn.h"
#include "common/unique_fd.h"

namespace shardex {

namespace {

// Opens `path` for appending; an empty path gives no descriptor.
absl::StatusOr<UniqueFd> OpenOutput(const std::string& path) {
  if (path.empty()) return UniqueFd();
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0644));
  if (!fd.valid()) {
    return absl::InternalError(
        absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  absl::StatusOr<UniqueFd> out = OpenOutput(options.stdout_file);
  if (!out.ok()) return out.status();
  absl::StatusOr<UniqueFd> err = OpenOutput(options.stderr_file);
  if (!err.ok()) return err.status();

  // Not isolated (see the header): everything a plain exec would keep.
  SpawnRequest request;
  request.program = argv[0];
  request.argv = argv;
  request.stdio[1] = out->get();
  request.stdio[2] = err->get();
  request.keep_ignored_signals = true;
  request.die_with_parent = options.die_with_parent;
  absl::StatusOr<SpawnResult> started = Spawn(request);
  if (!started.ok()) return started.status();
  if (started->failure.has_value()) {
    const SpawnFailure& failure = *started->failure;
    return absl::InternalError(absl::StrCat(
        "cannot run ", argv[0], ": ",
        failure.step == SpawnStep::kExec ? strerror(failure.err)
                                         : failure.Describe()));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(started->pid));
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
