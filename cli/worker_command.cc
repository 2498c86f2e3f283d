// `shardex worker`: its flags and the long-running worker process.
#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/shared_flags.h"
#include "glog/logging.h"

namespace shardex {

namespace {

struct WorkerFlags {
  WorkerOptions options;
  std::string token_file;
};

}  // namespace

Subcommand AddWorkerCommand(CLI::App& app, const GlobalOptions&) {
  auto flags = std::make_shared<WorkerFlags>();
  WorkerOptions& worker = flags->options;
  worker.coordinator = DefaultCoordinator();
  CLI::App* cmd = app.add_subcommand("worker", "run a worker");
  cmd->add_option("--coordinator", worker.coordinator,
                  "coordinator address host:port")
      ->capture_default_str();
  AddAccessFlags(cmd, &flags->token_file, &worker.tls);
  cmd->add_option("--threads", worker.threads,
                  "shards run at once (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--processes", worker.processes,
                  "command shards run at once (default: every core)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--scratch-dir", worker.scratch_dir,
                  "where command shards get their working directories "
                  "(default: $TMPDIR or /tmp)");
  cmd->add_option("--name", worker.host,
                  "name shown in `shardex workers` (default: hostname)");
  AddDurationOption(cmd, "--drain-timeout", &worker.drain_timeout,
                    "on SIGTERM, how long running shards may finish before "
                    "they are handed back to the coordinator");
  return {cmd, [flags] {
            if (!LoadToken(flags->token_file, &flags->options.token)) {
              return static_cast<int>(kExitUsage);
            }
            return RunWorker(flags->options);
          }};
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
  if (!st.ok()) return Fail(st);
  return kExitOk;
}

}  // namespace shardex
