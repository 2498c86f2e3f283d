// ChildSupervisor: the parent's side of one running child of RunProcess. One
// poll() loop feeds its stdin, drains its stdout and stderr into a
// ProcessOutcome, and enforces the output cap, the timeout and
// cancellation by SIGKILLing the child's process group -- also after the
// child exits, so that background grandchildren left in the group do not
// outlive it. It never reaps the child: RunProcess does, after Run().
//
// Given a cancel fd (readable once `cancel` is set: ShardControl::WakeFd)
// and a pidfd for the child, poll() sleeps until something happens: a
// child that runs quietly for minutes costs no wake-ups. Without either,
// it looks every 20 ms.
//
// Thread-safety: one thread calls Run(); `cancel` may be set from any
// thread. SIGPIPE is blocked on that thread while Run() runs.
#ifndef SHARDEX_COMMON_CHILD_SUPERVISOR_H_
#define SHARDEX_COMMON_CHILD_SUPERVISOR_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/process_outcome.h"
#include "common/stdin_feeder.h"
#include "common/unique_fd.h"

namespace shardex {

// Our ends of a started child's stdio pipes (non-blocking).
struct ChildPipes {
  UniqueFd stdin_w;
  UniqueFd stdout_r;
  UniqueFd stderr_r;
};

class ChildSupervisor {
 public:
  using Kind = ProcessOutcome::Kind;

  // `pid` leads the child's process group. `timeout` zero means none; the
  // cap applies to stdout and to stderr, each. `feeder` and `out` must
  // outlive the supervisor; stdout and the stderr tail go into `out`.
  // `cancel_fd`: -1, or an fd (not owned) that becomes readable when the
  // `cancel` given to Run() is set.
  ChildSupervisor(pid_t pid, ChildPipes pipes, StdinFeeder* feeder,
                  uint64_t max_output_bytes, absl::Duration timeout,
                  ProcessOutcome* out, int cancel_fd = -1);
  ChildSupervisor(const ChildSupervisor&) = delete;
  ChildSupervisor& operator=(const ChildSupervisor&) = delete;

  // Returns once the child has exited, its group been killed and its pipes
  // drained (or given up on after a grace period). Sees `cancel` at once
  // through the cancel fd, else within 20 ms.
  void Run(const std::atomic<bool>& cancel);

  // Why we killed the child, if we did.
  std::optional<Kind> stopped() const { return stopped_; }
  // Set if the stdin file failed while being read.
  const absl::Status& input_error() const { return feeder_->error(); }

 private:
  void Loop(const std::atomic<bool>& cancel);
  void Stop(Kind why);
  void Overflow(const char* stream);
  void OnChildExited();
  bool ChildHasExited() const;  // when there is no pidfd to poll
  int PollTimeoutMs(absl::Time now) const;
  void PollOnce(absl::Time now);
  void FeedStdin();
  absl::string_view ReadChunk(UniqueFd* fd);
  void ReadStdout();
  void ReadStderr();

  // Constant after construction.
  const pid_t pid_;
  const uint64_t cap_;
  const int cancel_fd_;
  const std::optional<absl::Time> deadline_;
  StdinFeeder* const feeder_;
  ProcessOutcome* const out_;

  // State of the loop, touched only by the thread in Run(). A pipe end is
  // reset (-1) once at EOF or no longer wanted; poll() skips it then.
  UniqueFd stdin_, stdout_, stderr_, pidfd_;
  // One read's worth (kChunk); left uninitialized: zeroing 64 KiB for every
  // child showed up in profiles of short command shards.
  std::unique_ptr<char[]> buffer_;
  uint64_t stderr_bytes_ = 0;
  std::optional<Kind> stopped_;
  bool exited_ = false;
  absl::Time drain_deadline_ = absl::InfiniteFuture();
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_CHILD_SUPERVISOR_H_
