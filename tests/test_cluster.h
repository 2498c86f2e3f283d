// TestCluster: real shardex processes for multi-process tests — one
// coordinator (`shardex coordinator` on a free 127.0.0.1 port) and any
// number of `shardex worker` processes — plus a way to run the CLI against
// them, and the hooks fault-tolerance tests need: kill and restart the
// coordinator on the same port and state directory, signal workers, and find
// the processes the cluster left behind. Every process it starts is stopped
// and reaped by Shutdown() or the destructor.
//
// Tagging. The coordinator and the workers run with
//   SHARDEX_TEST_CLUSTER=<cluster dir>  and  TMPDIR=<cluster dir>/tmp
// in their environment. Command shards get a clean environment but keep
// TMPDIR (docs/commands.md), and their own children inherit it, so every
// process the cluster caused — including orphans of a killed worker — is
// found by scanning /proc/*/environ for either marker, wherever it was
// reparented and whatever process group it made.
//
// Thread-safety: use from the test's thread only.
#ifndef SHARDEX_TESTS_TEST_CLUSTER_H_
#define SHARDEX_TESTS_TEST_CLUSTER_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "common/subprocess.h"
#include "common/tls.h"

namespace shardex {

// Path of the shardex binary in the test's runfiles.
std::string ShardexBinary();


// A finished CLI run.
struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `shardex args...` and waits up to `timeout` for it.
CliRun RunCli(const std::vector<std::string>& args,
              absl::Duration timeout = absl::Seconds(120));

// Waits up to `timeout` for `p` (killed if still running: exit_code -1,
// "timed out" in err) and reads what it wrote to the two files.
CliRun CollectCliRun(Subprocess& p, absl::Duration timeout,
                     const std::string& stdout_file,
                     const std::string& stderr_file);

// A CLI command running in the background (`shardex submit` following a
// job, say) while the test does something else.
class BackgroundCli {
 public:
  static absl::StatusOr<std::unique_ptr<BackgroundCli>> Start(
      const std::vector<std::string>& args);
  bool running() { return process_->running(); }
  // Waits up to `timeout`; a run still going is killed (exit_code -1).
  CliRun Finish(absl::Duration timeout = absl::Seconds(120));

 private:
  BackgroundCli() = default;
  std::unique_ptr<Subprocess> process_;
  std::string stdout_file_;
  std::string stderr_file_;
};

// One live process of a cluster, from /proc.
struct ClusterProcess {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  std::string cmdline;                     // argv joined by spaces
  std::map<std::string, std::string> env;  // its SHARDEX_* variables
  std::string Describe() const;            // "pid 12 (ppid 1): sleep 30"
};

// The live (non-zombie) processes whose environment holds one of
// `markers` (entries "NAME=value", matched exactly), this one excepted.
std::vector<ClusterProcess> TaggedProcesses(
    const std::vector<std::string>& markers);

class TestCluster {
 public:
  // Starts a coordinator with `coordinator_flags` added to its command line
  // and its own state directory, <dir>/state (the user's default one is
  // shared with every other coordinator, and locked).
  // `client_tls` is what workers, the CLI and client() use to reach it
  // (TLS flags, as files).
  static absl::StatusOr<std::unique_ptr<TestCluster>> Start(
      std::vector<std::string> coordinator_flags = {},
      TlsFiles client_tls = {});
  ~TestCluster();  // Shutdown(), then SIGKILL for anything tagged still alive

  std::string address() const { return address_; }
  const std::string& dir() const { return dir_; }  // logs, state, scratch
  // "" when the coordinator runs without --state-dir.
  const std::string& state_dir() const { return state_dir_; }
  // The coordinator's access token file (<state dir>/token); workers and
  // CLI runs get --token-file with it.
  std::string token_file() const { return state_dir_ + "/token"; }

  // ---- coordinator
  Subprocess& coordinator() { return *coordinator_; }
  // SIGKILL, then reap. Workers keep running and try to reconnect.
  void KillCoordinator();
  // Starts a new coordinator on the same port, state directory and flags
  // (retrying briefly while the port is not free yet). The old one must be
  // gone (KillCoordinator). client() talks to the new one afterwards.
  absl::Status RestartCoordinator();

  // ---- workers
  // Starts a worker with `threads` kernel threads, `processes` command
  // slots (0: the worker's default, every core) and `extra_flags`; returns
  // its index. Indices are never reused: a killed worker keeps its index.
  absl::StatusOr<int> AddWorker(int threads = 1, int processes = 0,
                                std::vector<std::string> extra_flags = {});
  Subprocess& worker(int index) { return *workers_[index]; }
  int worker_count() const { return static_cast<int>(workers_.size()); }
  // Waits up to `timeout` for worker `index` to exit; its wait status
  // (WIFEXITED...) or DEADLINE_EXCEEDED.
  absl::StatusOr<int> WaitForWorkerExit(int index, absl::Duration timeout);
  // Waits until at least `n` workers are registered.
  absl::Status WaitForWorkers(size_t n,
                              absl::Duration timeout = absl::Seconds(30));
  // What the coordinator lists for worker `index` (matched by pid), once
  // it has registered (again, after a lost session); NOT_FOUND otherwise.
  absl::StatusOr<shardex::v1::WorkerInfo> WorkerInfoOf(int index);

  // ---- CLI and client
  // Runs the CLI with `--coordinator=<this cluster>` after the command.
  CliRun Cli(const std::string& command, std::vector<std::string> args,
             absl::Duration timeout = absl::Seconds(120));
  absl::StatusOr<std::unique_ptr<BackgroundCli>> StartCli(
      const std::string& command, std::vector<std::string> args);
  CoordinatorClient& client() { return *client_; }
  // Polls GetJob until `done(status)` or `timeout`; returns the last status
  // seen (DEADLINE_EXCEEDED naming it if `done` never held). Unreachable
  // coordinators are retried until the deadline.
  absl::StatusOr<shardex::v1::JobStatus> WaitForJob(
      uint64_t job_id,
      const std::function<bool(const shardex::v1::JobStatus&)>& done,
      absl::Duration timeout = absl::Seconds(60));

  // ---- processes and leaks
  // Every live (non-zombie) process tagged with this cluster.
  std::vector<ClusterProcess> Processes();
  // The same without the coordinator and worker processes themselves:
  // command shards, their children, reduce commands, orphans.
  std::vector<ClusterProcess> ShardProcesses();
  // Waits up to `timeout` until ShardProcesses() is empty; otherwise an
  // error listing what is left.
  absl::Status WaitForNoShardProcesses(
      absl::Duration timeout = absl::Seconds(10));
  // Stops every worker (SIGCONT, SIGTERM, then SIGKILL after a grace) and
  // the coordinator, and reaps them. Idempotent.
  void Shutdown();
  // After Shutdown(): waits up to `timeout` until no tagged process at all
  // is alive; otherwise an error listing them.
  absl::Status WaitForNoProcesses(absl::Duration timeout = absl::Seconds(10));

  // The last `bytes` of the coordinator's and each worker's log, for
  // failure messages.
  std::string LogTails(size_t bytes = 3000) const;

 private:
  TestCluster() = default;
  // --token-file and the client TLS flags, for workers and CLI runs.
  std::vector<std::string> AccessFlags() const;
  absl::Status StartCoordinator(const std::string& listen);
  std::vector<std::string> TaggedArgv(const std::string& command) const;

  // Constant after Start.
  std::string dir_;        // logs of every process; TMPDIR of the cluster
  std::string state_dir_;
  TlsFiles client_tls_;
  std::vector<std::string> coordinator_flags_;

  std::string address_;
  int coordinator_starts_ = 0;
  std::unique_ptr<Subprocess> coordinator_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::unique_ptr<CoordinatorClient> client_;
};

}  // namespace shardex

#endif  // SHARDEX_TESTS_TEST_CLUSTER_H_
