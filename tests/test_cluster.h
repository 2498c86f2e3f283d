// TestCluster: real shardex processes for multi-process tests — one
// coordinator (`shardex coordinator` on a free 127.0.0.1 port) and any
// number of `shardex worker` processes — plus a way to run the CLI against
// them. Every process it starts is stopped and reaped by its destructor.
//
// Thread-safety: use from the test's thread only.
#ifndef SHARDEX_TESTS_TEST_CLUSTER_H_
#define SHARDEX_TESTS_TEST_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "common/subprocess.h"

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

class TestCluster {
 public:
  // Starts a coordinator with `coordinator_flags` added to its command line.
  static absl::StatusOr<std::unique_ptr<TestCluster>> Start(
      std::vector<std::string> coordinator_flags = {});
  ~TestCluster();

  std::string address() const { return address_; }

  // Starts a worker with `threads` threads; returns its index.
  absl::StatusOr<int> AddWorker(int threads = 1);
  Subprocess& worker(int index) { return *workers_[index]; }
  Subprocess& coordinator() { return *coordinator_; }

  // Waits until `n` workers are registered.
  absl::Status WaitForWorkers(size_t n,
                              absl::Duration timeout = absl::Seconds(30));

  // Runs the CLI with `--coordinator=<this cluster>` after the command.
  CliRun Cli(const std::string& command, std::vector<std::string> args,
             absl::Duration timeout = absl::Seconds(120));

  CoordinatorClient& client() { return *client_; }

 private:
  TestCluster() = default;

  std::string dir_;  // logs of every process
  std::string address_;
  std::unique_ptr<Subprocess> coordinator_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::unique_ptr<CoordinatorClient> client_;
};

}  // namespace shardex

#endif  // SHARDEX_TESTS_TEST_CLUSTER_H_
