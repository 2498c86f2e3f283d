// coordinator and worker: the long-running server processes.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// Blocks SIGINT and SIGTERM in every thread started after this call, and
// returns a thread that calls `on_signal` when one arrives. Signals are
// taken synchronously, so the handler may do anything.
std::thread HandleStopSignals(std::function<void(int)> on_signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, on_signal] {
    int signo = 0;
    sigwait(&set, &signo);
    on_signal(signo);
  });
}

}  // namespace

int RunCoordinator(const CoordinatorCommand& cmd) {
  std::unique_ptr<CoordinatorServer> server;
  absl::Notification started;
  std::thread signals = HandleStopSignals([&](int signo) {
    started.WaitForNotification();
    LOG(INFO) << "signal " << signo << ": shutting down";
    if (server != nullptr) server->Shutdown();
  });
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> s =
      CoordinatorServer::Start(cmd.server, Clock::Real());
  if (!s.ok()) {
    std::cerr << "shardex: " << s.status().message() << "\n";
    signals.detach();
    return kExitUsage;
  }
  server = std::move(s).value();
  started.Notify();
  LOG(INFO) << "coordinator listening on port " << server->port();
  if (!cmd.port_file.empty()) {
    const std::string tmp = cmd.port_file + ".tmp";
    std::ofstream(tmp) << server->port() << "\n";
    std::rename(tmp.c_str(), cmd.port_file.c_str());  // readers see it whole
  }
  server->Wait();
  signals.join();
  return kExitOk;
}

int RunWorker(const WorkerOptions& options) {
  // The first SIGINT/SIGTERM drains (finish or hand back the shards held,
  // then exit 0); another one stops at once. Signals are blocked before the
  // Worker starts its pool threads, so only this thread takes them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Worker worker(options);
  std::atomic<bool> exiting{false};
  std::thread signals([&] {
    for (int count = 0;; ++count) {
      int signo = 0;
      sigwait(&set, &signo);
      if (exiting.load()) return;
      if (count == 0) {
        LOG(INFO) << "signal " << signo << ": draining for up to "
                  << options.drain_timeout << " (signal again to stop now)";
        worker.Drain(options.drain_timeout);
      } else {
        LOG(INFO) << "signal " << signo << ": stopping now";
        worker.Stop();
      }
    }
  });
  absl::Status st = worker.Run();
  exiting.store(true);
  pthread_kill(signals.native_handle(), SIGTERM);  // wakes sigwait
  signals.join();
  if (!st.ok()) {
    std::cerr << "shardex: " << st.message() << "\n";
    return ExitCodeFor(st);
  }
  return kExitOk;
}

}  // namespace shardex
