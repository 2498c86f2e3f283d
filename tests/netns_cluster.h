// NetnsClusterTest: the part of a multi-host test fixture that
// tests/multihost_test.cc and the staging tests (tests/staging_fixture.h)
// share: hosts from network namespaces (tests/netns_hosts.h), a test CA with
// a server certificate for the coordinator's host and a client certificate
// per host made by the `openssl` CLI, a `shardex coordinator` on host 0 at
// kCoordinatorPort with the TLS flags, its token copied to every host, and
// `shardex worker`s and CLI runs on any host with the flags to reach it.
// Also the small helpers both use (Trim, FromJson).
//
// A derived fixture calls CreateHosts() in its SetUp (then returns if
// hosts_ is null: skipped), makes certificates, starts the coordinator and
// workers; TearDown() prints the logs when the test failed, kills every
// process and checks that the hosts left nothing behind.
//
// Thread-safety: none; used from the test's thread only.
#ifndef SHARDEX_TESTS_NETNS_CLUSTER_H_
#define SHARDEX_TESTS_NETNS_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/netns_hosts.h"
#include "tests/test_cluster.h"

namespace shardex {

std::string Trim(const std::string& s);

// A message printed as JSON by the CLI (`--json`); unknown fields ignored.
template <typename Message>
absl::StatusOr<Message> FromJson(const std::string& json) {
  Message m;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON of ", Message::descriptor()->name(), ": ",
                     st.ToString(), ": ", json));
  }
  return m;
}

class NetnsClusterTest : public ::testing::Test {
 protected:
  static constexpr int kCoordinatorHost = 0;  // host a
  static constexpr int kCoordinatorPort = 7473;

  void TearDown() override;

  // Skips the test (hosts_ stays null) where hosts cannot be made;
  // otherwise makes `n` hosts under dir_, a fresh directory named by the
  // test.
  void CreateHosts(int n);

  // Prints the logs of the coordinator and the workers (if the test
  // failed), kills them, destroys the hosts and checks for leaks.
  void StopAndDestroyHosts();

  // A CA, a server certificate for the coordinator's host (its address and
  // host-<name> in the SAN) and a client certificate per host, made with
  // the openssl CLI in `pki`; each host gets its files in ~/.shardex.
  void MakeCertificates(const std::string& pki);

  std::string Config(int host) const {
    return hosts_->home(host) + "/.shardex";
  }
  std::string Address() const {
    return absl::StrCat(hosts_->ip(kCoordinatorHost), ":", kCoordinatorPort);
  }
  std::string CoordinatorState() const {
    return hosts_->state_dir(kCoordinatorHost) + "/coordinator";
  }
  std::string PortFile() const {
    return hosts_->state_dir(kCoordinatorHost) + "/port";
  }

  // What a worker or client on `host` needs to reach the coordinator:
  // its address, the token file and the TLS files of the host.
  virtual std::vector<std::string> AccessFlags(int host) const;

  // Starts the coordinator on its host: with the TLS files of
  // MakeCertificates() if `tls`, --allow-commands, --heartbeat-timeout=3s
  // and `extra`; waits for its port file. With `retry`, a coordinator that
  // exits at once (its port not free yet after a kill) is started again,
  // for up to 30 s. With `tls`, its token is then copied to every host, as
  // an operator would.
  void StartCoordinator(bool tls, const std::vector<std::string>& extra,
                        bool retry);

  // A worker on `host` with AccessFlags(host), then `extra`, 1 thread and 2
  // process slots; its scratch directory (and so its blob cache) is in the
  // host-local directory.
  void StartWorker(int host, const std::vector<std::string>& extra = {});

  // `shardex COMMAND <access flags of host> ARGS...` run on `host`.
  std::vector<std::string> CliArgv(int host, const std::string& command,
                                   const std::vector<std::string>& args) const;
  CliRun Cli(int host, const std::string& command,
             const std::vector<std::string>& args,
             absl::Duration timeout = absl::Seconds(120));
  std::unique_ptr<HostProcess> StartCli(int host, const std::string& command,
                                        const std::vector<std::string>& args);

  // The workers the coordinator lists, asked from query_host_.
  absl::StatusOr<std::vector<v1::WorkerInfo>> Workers();
  // The listed worker named host-<name>, if any.
  static const v1::WorkerInfo* Find(const std::vector<v1::WorkerInfo>& list,
                                    const std::string& name);
  // Waits until `pred` holds for the worker list; fails the test otherwise.
  void WaitForWorkerList(
      const std::string& what,
      const std::function<bool(const std::vector<v1::WorkerInfo>&)>& pred,
      absl::Duration timeout = absl::Seconds(45));
  void WaitForWorkers(size_t n);

  // `submit --detach ARGS` from `host`; the job's id (0 and a failure if
  // none).
  uint64_t SubmitDetached(int host, const std::vector<std::string>& args);

  int query_host_ = kCoordinatorHost;
  std::string dir_;
  std::unique_ptr<NetnsHosts> hosts_;
  std::unique_ptr<HostProcess> coordinator_;
  std::vector<std::unique_ptr<HostProcess>> workers_;  // by host
};

}  // namespace shardex

#endif  // SHARDEX_TESTS_NETNS_CLUSTER_H_
