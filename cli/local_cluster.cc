#include "cli/local_cluster.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"

namespace shardex {

LocalSlots ResolveLocalSlots(const LocalClusterOptions& options, int cores) {
  LocalSlots slots;
  slots.threads = options.threads > 0
                      ? options.threads
                      : std::max(1, cores / std::max(1, options.workers));
  slots.processes = options.processes > 0 ? options.processes : slots.threads;
  return slots;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(
    const LocalClusterOptions& options) {
  if (options.workers < 1) {
    return absl::InvalidArgumentError("--workers must be at least 1");
  }
  std::unique_ptr<LocalCluster> cluster(new LocalCluster);
  CoordinatorOptions coordinator;
  coordinator.listen = "127.0.0.1:0";
  coordinator.scheduler.allow_commands = options.allow_commands;
  coordinator.state_dir = options.state_dir;
  if (coordinator.state_dir.empty()) {
    std::string pattern = absl::StrCat(TempDir(), "/shardex-local-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create a state directory like ", pattern, ": ",
                       strerror(errno)));
    }
    cluster->temp_state_dir_ = coordinator.state_dir = pattern;
  }
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(coordinator, Clock::Real());
  if (!server.ok()) return server.status();
  cluster->server_ = std::move(server).value();

  const LocalSlots slots = ResolveLocalSlots(
      options, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < options.workers; ++i) {
    std::vector<std::string> argv = {
        options.self_exe, absl::StrCat("--log-level=", options.log_level),
        "worker", absl::StrCat("--coordinator=", cluster->address()),
        absl::StrCat("--threads=", slots.threads),
        absl::StrCat("--processes=", slots.processes),
        absl::StrCat("--token-file=", cluster->server_->token_file()),
        absl::StrCat("--name=local-", i + 1)};
    // With a temporary state directory, the workers' scratch space and
    // cache go in it too (not $TMPDIR/shardex-worker-UID), so that the
    // destructor removes everything the run made.
    if (!cluster->temp_state_dir_.empty()) {
      argv.push_back(
          absl::StrCat("--scratch-dir=", cluster->temp_state_dir_, "/workers"));
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> worker =
        Subprocess::Start(argv, Subprocess::Options{});
    if (!worker.ok()) return worker.status();
    cluster->workers_.push_back(std::move(worker).value());
  }

  const absl::Time deadline = absl::Now() + options.ready_timeout;
  while (cluster->server_->scheduler()->ListWorkers().size() <
         static_cast<size_t>(options.workers)) {
    for (auto& w : cluster->workers_) {
      if (!w->running()) {
        return absl::InternalError("a local worker exited during start-up");
      }
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          "local workers did not register within the start-up timeout");
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return cluster;
}

void LocalCluster::StopWorkersNow() {
  // A worker takes its first SIGINT/SIGTERM as "drain" and the next as
  // "stop now, cancelling running shards" (RunWorker). Two different
  // signals, so that they cannot merge into one while both are pending.
  for (auto& w : workers_) w->Signal(SIGINT);
  for (auto& w : workers_) w->Signal(SIGTERM);
  for (auto& w : workers_) w->Stop(absl::Seconds(5));
}

LocalCluster::~LocalCluster() {
  for (auto& w : workers_) w->Signal(SIGTERM);
  for (auto& w : workers_) w->Stop(absl::Seconds(5));
  if (server_ != nullptr) server_->Shutdown();
  server_.reset();  // closes the journal
  if (!temp_state_dir_.empty()) (void)RemoveTree(temp_state_dir_);
}

std::string LocalCluster::address() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

}  // namespace shardex
