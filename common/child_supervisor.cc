#include "common/child_supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/spawn.h"

namespace shardex {

namespace {

constexpr size_t kChunk = 64 << 10;      // one read of a pipe
constexpr size_t kStderrTail = 4 << 10;  // stderr kept for messages
// The longest poll() sleeps without a cancel fd and a pidfd, so that
// `cancel` and the child's exit are seen within this.
constexpr absl::Duration kTick = absl::Milliseconds(20);
// How long pipes are drained after the child's group was killed. Only a
// descendant that left the group can hold them open longer.
constexpr absl::Duration kDrainGrace = absl::Seconds(1);

// A raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
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

}  // namespace

ChildSupervisor::ChildSupervisor(pid_t pid, ChildPipes pipes,
                                 StdinFeeder* feeder,
                                 uint64_t max_output_bytes,
                                 absl::Duration timeout, ProcessOutcome* out,
                                 int cancel_fd)
    : pid_(pid),
      cap_(max_output_bytes),
      cancel_fd_(cancel_fd),
      deadline_(timeout > absl::ZeroDuration()
                    ? std::optional<absl::Time>(absl::Now() + timeout)
                    : std::nullopt),
      feeder_(feeder),
      out_(out),
      stdin_(std::move(pipes.stdin_w)),
      stdout_(std::move(pipes.stdout_r)),
      stderr_(std::move(pipes.stderr_r)),
      // Readable once the child exits, so poll() wakes at once even while a
      // grandchild holds stdout open. Without it (kernel < 5.3, seccomp),
      // we look with waitid() every tick.
      pidfd_(PidfdOpen(pid)),
      buffer_(new char[kChunk]) {}

void ChildSupervisor::Run(const std::atomic<bool>& cancel) {
  SigpipeGuard sigpipe_guard;
  Loop(cancel);
}

void ChildSupervisor::Loop(const std::atomic<bool>& cancel) {
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

void ChildSupervisor::Stop(Kind why) {
  if (stopped_.has_value()) return;
  stopped_ = why;
  if (!exited_) KillProcessGroup(pid_);  // after the exit it has been done
}

void ChildSupervisor::OnChildExited() {
  exited_ = true;
  // Even after a normal exit: background processes left in its group would
  // otherwise live on as orphans. The unreaped child still holds the group
  // id, so this cannot hit a new group that reused it.
  KillProcessGroup(pid_);
  stdin_.Reset();
  pidfd_.Reset();
  drain_deadline_ = absl::Now() + kDrainGrace;
}

bool ChildSupervisor::ChildHasExited() const {
  siginfo_t info = {};
  const int r = waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT);
  return (r == 0 && info.si_pid == pid_) || (r < 0 && errno == ECHILD);
}

int ChildSupervisor::PollTimeoutMs(absl::Time now) const {
  // Woken by everything that can happen (the cancel fd, the child's exit
  // on the pidfd, the pipes), poll() needs no tick; after the exit the
  // drain deadline bounds it.
  absl::Duration wait = cancel_fd_ >= 0 && (exited_ || pidfd_.valid())
                            ? absl::InfiniteDuration()
                            : kTick;
  if (!exited_ && deadline_.has_value()) wait = std::min(wait, *deadline_ - now);
  if (exited_) wait = std::min(wait, drain_deadline_ - now);
  if (wait == absl::InfiniteDuration()) return -1;
  wait = std::max(wait, absl::ZeroDuration());
  return static_cast<int>(absl::Ceil(wait, absl::Milliseconds(1)) /
                          absl::Milliseconds(1));
}

void ChildSupervisor::PollOnce(absl::Time now) {
  // Slots: stdin, stdout, stderr, pidfd, cancel fd; fd -1 makes poll()
  // skip a slot. The cancel fd stays readable once set (nothing reads it):
  // it is watched only until the child is stopped, which the loop's next
  // turn does when it sees `cancel`.
  struct pollfd fds[5] = {
      {stdin_.get(), POLLOUT, 0},
      {stdout_.get(), POLLIN, 0},
      {stderr_.get(), POLLIN, 0},
      {pidfd_.get(), POLLIN, 0},
      {stopped_.has_value() ? -1 : cancel_fd_, POLLIN, 0},
  };
  const int ready = poll(fds, 5, PollTimeoutMs(now));
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

void ChildSupervisor::FeedStdin() {
  switch (feeder_->Pump(stdin_.get())) {
    case StdinFeeder::State::kMore:
      return;
    case StdinFeeder::State::kDone:
      stdin_.Reset();  // the child sees EOF
      return;
    case StdinFeeder::State::kFailed:
      // A child fed part of its input could "succeed" with a wrong result.
      stdin_.Reset();
      if (!exited_) KillProcessGroup(pid_);
      return;
  }
}

// Reads what one pipe has ready; closes it at EOF.
absl::string_view ChildSupervisor::ReadChunk(UniqueFd* fd) {
  ssize_t n;
  do {
    n = read(fd->get(), buffer_.get(), kChunk);
  } while (n < 0 && errno == EINTR);
  if (n > 0) return absl::string_view(buffer_.get(), n);
  if (n == 0 || errno != EAGAIN) fd->Reset();
  return absl::string_view();
}

void ChildSupervisor::ReadStdout() {
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

void ChildSupervisor::ReadStderr() {
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

void ChildSupervisor::Overflow(const char* stream) {
  if (stopped_.has_value()) return;  // already stopped for another reason
  out_->overflowed = stream;
  Stop(Kind::kOutputTooLarge);
}

}  // namespace shardex
