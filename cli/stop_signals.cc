#include "cli/stop_signals.h"

#include <pthread.h>
#include <unistd.h>

namespace shardex {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
  thread_ = std::thread([this] { Loop(); });
}

StopSignals::~StopSignals() {
  exiting_.store(true);
  pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void StopSignals::OnStop(std::function<void(int)> on_stop) {
  int signo = 0;
  {
    absl::MutexLock lock(&mu_);
    on_stop_ = on_stop;
    signo = received_.load();
    if (signo == 0) return;
  }
  // The signal came before there was anyone to tell.
  on_stop(signo);
}

void StopSignals::Loop() {
  while (true) {
    int signo = 0;
    if (sigwait(&set_, &signo) != 0) continue;
    if (exiting_.load()) return;
    if (received_.load() != 0) _exit(ExitCodeForSignal(signo));  // again
    std::function<void(int)> on_stop;
    {
      absl::MutexLock lock(&mu_);
      received_.store(signo);
      on_stop = on_stop_;
    }
    if (on_stop) on_stop(signo);
  }
}

}  // namespace shardex
