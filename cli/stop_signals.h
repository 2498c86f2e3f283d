// StopSignals: SIGINT and SIGTERM for a command that must clean up before it
// exits (`shardex local`: its workers, its coordinator, its temporary state
// directory).
//
// The constructor blocks both signals in the calling thread, so it must run
// before the command starts any thread: every thread started later inherits
// the mask, and only StopSignals' own thread takes them (with sigwait, so
// the callback may do anything). The first signal is recorded and handed to
// the OnStop callback; a second one ends the process at once with
// 128 + its number, cleaning nothing up -- the user insisted.
//
// Thread-safety: construct, OnStop and destroy on one thread; received()
// from any thread.
#ifndef SHARDEX_CLI_STOP_SIGNALS_H_
#define SHARDEX_CLI_STOP_SIGNALS_H_

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shardex {

class StopSignals {
 public:
  StopSignals();
  // Stops the signal thread and restores the signal mask.
  ~StopSignals();

  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Calls `on_stop(signo)` on the signal thread when the first signal
  // arrives, or now, on this thread, if one already has. Replaces an
  // earlier callback.
  void OnStop(std::function<void(int)> on_stop) ABSL_LOCKS_EXCLUDED(mu_);

  // The first signal's number; 0 while none has come.
  int received() const { return received_.load(); }

 private:
  void Loop();

  sigset_t set_;       // SIGINT, SIGTERM
  sigset_t old_mask_;  // the caller's, restored by the destructor
  std::atomic<int> received_{0};
  std::atomic<bool> exiting_{false};
  absl::Mutex mu_;
  std::function<void(int)> on_stop_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the above exists
};

// The conventional exit code of a command stopped by signal `signo`:
// 128 + signo (130 for SIGINT, 143 for SIGTERM).
inline int ExitCodeForSignal(int signo) { return 128 + signo; }

}  // namespace shardex

#endif  // SHARDEX_CLI_STOP_SIGNALS_H_
