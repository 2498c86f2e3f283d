// NetnsHosts: several "hosts" on one machine for multi-host tests, made of
// Linux network namespaces, created by the test (as root) and removed by it.
//
//   switch namespace  <prefix>-sw : bridge br0, one veth per host
//   host namespaces   <prefix>-a, <prefix>-b, ... : lo and eth0 (the other
//                     end of its veth), address 10.200.77.<index+1>/24
//
// Nothing is added to the root namespace: every veth is created inside the
// switch namespace with its peer moved straight into the host's, so no
// traffic can leave the namespaces made here, and no route leads anywhere
// but the /24 and loopback.
//
// Each host has its own HOME, state directory and TMPDIR (plain directories,
// named by the host), and a host-local directory: every process runs in a
// mount namespace of its own where local_dir() is bound to that host's
// backing directory, so the same path holds different files on each host.
// shared_dir() is the same on all hosts ("a file all hosts see").
//
// Names carry a unique prefix with the test's pid ("sdxh<pid>-<n>"): on
// creation, namespaces of an earlier run whose process is gone are removed
// with whatever still runs in them, so a crashed run never breaks the next.
// Destroy() (and the destructor) kills every process in the namespaces,
// deletes them, and reports anything left: a leak check.
//
// Thread-safety: use from the test's thread only.
#ifndef SHARDEX_TESTS_NETNS_HOSTS_H_
#define SHARDEX_TESTS_NETNS_HOSTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "tests/test_cluster.h"

namespace shardex {

// A process started on a host: `shardex` or any program, its stdout and
// stderr kept in files of the host's directory.
class HostProcess {
 public:
  HostProcess(std::unique_ptr<Subprocess> process, std::string stdout_file,
              std::string stderr_file);
  // The pid of the program itself (the wrappers exec it).
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  void Kill();  // kill -9, then reap
  // Waits up to `timeout`; a run still going is killed (exit_code -1 and
  // "timed out" in err).
  CliRun Finish(absl::Duration timeout);
  // Its output so far.
  std::string Log() const;

 private:
  std::unique_ptr<Subprocess> process_;
  std::string stdout_file_;
  std::string stderr_file_;
};

class NetnsHosts {
 public:
  // OK if this machine can make hosts: root, `ip` and `unshare` present, and
  // a network namespace and a mount namespace can be made (a probe).
  // Otherwise why not, for GTEST_SKIP().
  static absl::Status Available();

  // Makes `hosts` hosts (at most 26) under `dir` (a fresh directory).
  static absl::StatusOr<std::unique_ptr<NetnsHosts>> Create(
      int hosts, const std::string& dir);
  ~NetnsHosts();  // Destroy()
  NetnsHosts(const NetnsHosts&) = delete;
  NetnsHosts& operator=(const NetnsHosts&) = delete;

  int size() const { return static_cast<int>(names_.size()); }
  // "a", "b", ...: the host's name, also in its namespace's name.
  const std::string& name(int host) const { return names_[host]; }
  std::string ip(int host) const;  // "10.200.77.<host+1>"
  std::string netns(int host) const;

  // Paths, the same inside the hosts and in the test.
  std::string home(int host) const;       // the host's HOME
  std::string state_dir(int host) const;  // for --state-dir and the like
  std::string shared_dir() const;         // seen by every host
  std::string local_dir() const;          // host-local, inside a host
  // What the host sees at local_dir(), as the test reaches it.
  std::string local_backing_dir(int host) const;

  // Starts `argv` (argv[0] a path) on `host`: in its network namespace and
  // its own mount namespace, with HOME and TMPDIR of the host. `label`
  // names its log files.
  absl::StatusOr<std::unique_ptr<HostProcess>> Start(
      int host, const std::vector<std::string>& argv,
      const std::string& label);
  // Runs `argv` on `host` and waits up to `timeout` for it.
  CliRun Run(int host, const std::vector<std::string>& argv,
             absl::Duration timeout = absl::Seconds(120));

  // Pulls the host's cable (its veth end in the switch goes down) and puts
  // it back. Connections stay open; packets are lost meanwhile.
  absl::Status LinkDown(int host);
  absl::Status LinkUp(int host);

  // Kills every process in the namespaces, deletes them, and checks that no
  // namespace, link or process of these hosts is left. Idempotent.
  absl::Status Destroy();

 private:
  NetnsHosts() = default;
  absl::Status Build(int hosts);
  std::string switch_netns() const;
  std::string switch_port(int host) const;  // the host's veth end in br0
  std::vector<std::string> AllNetns() const;

  // Constant after Create.
  std::string prefix_;  // "sdxh<pid>-<n>"
  std::string dir_;
  std::vector<std::string> names_;

  int processes_started_ = 0;
  bool destroyed_ = false;
};

}  // namespace shardex

#endif  // SHARDEX_TESTS_NETNS_HOSTS_H_
