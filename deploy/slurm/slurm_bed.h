// SlurmBed: a real Slurm cluster on this one host, for testing the sbatch
// script (deploy/slurm/README.md, "The test").
//
//   host a (10.200.77.1): munged, slurmctld; sbatch and sinfo run here
//   host b (10.200.77.2): slurmd, node "b", 2 CPUs
//   host c (10.200.77.3): slurmd, node "c", 2 CPUs
//
// The hosts are network namespaces (tests/netns_hosts.h), each daemon also
// in a UTS namespace named after its host, so `hostname` inside a job says
// "b" or "c". Debian's slurmd is not built with --enable-multiple-slurmd,
// hence one namespace per node. Daemons are entered with `nsenter --net`
// rather than `ip netns exec`, which remounts /sys and so hides the cgroup
// filesystem slurmd's cgroup plugin insists on finding.
//
// Everything lives in one short directory under /tmp (Unix socket paths,
// munge's and slurmd's, are limited to 108 bytes): a generated slurm.conf
// (proctrack/linuxproc, task/none, select/cons_tres, auth/munge with its
// own key and socket, no accounting, no systemd), spool, state and logs.
// Every command gets SLURM_CONF; the munge socket is in slurm.conf
// (AuthInfo=socket=...). Destroy() (and the destructor) kills every process
// in the namespaces, deletes them and the directory.
//
// Thread-safety: use from the test's thread only.
#ifndef SHARDEX_DEPLOY_SLURM_SLURM_BED_H_
#define SHARDEX_DEPLOY_SLURM_SLURM_BED_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/netns_hosts.h"
#include "tests/test_cluster.h"

namespace shardex {

class SlurmBed {
 public:
  // OK if a bed can be made here: root, network namespaces, a cgroup
  // filesystem slurmd accepts, and Debian's slurmctld, slurmd, slurm-client
  // and munge installed. Otherwise why not, for GTEST_SKIP().
  static absl::Status Available();

  // Makes the hosts, starts munged, slurmctld and both slurmd, and waits
  // until `sinfo` shows both nodes idle.
  static absl::StatusOr<std::unique_ptr<SlurmBed>> Start();
  ~SlurmBed();  // Destroy()
  SlurmBed(const SlurmBed&) = delete;
  SlurmBed& operator=(const SlurmBed&) = delete;

  // A directory every host sees (jobs are submitted from here).
  std::string shared_dir() const { return dir_ + "/shared"; }
  // SHARDEX_TEST_CLUSTER=<this>: set on every process the bed starts, and
  // through sbatch on every process of its jobs (TaggedProcesses()).
  std::string tag() const;

  // Runs `argv` (argv[0] a path) on the controller host a with SLURM_CONF,
  // HOME and TMPDIR of the bed, and `env` ("NAME=value") added.
  CliRun OnController(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env,
                      absl::Duration timeout);

  // The daemons' logs (slurmctld, slurmd on b and c), for failure messages.
  std::string DaemonLogs() const;

  // Kills everything, removes namespaces and the directory; reports what
  // was left behind. Idempotent.
  absl::Status Destroy();

 private:
  SlurmBed() = default;
  absl::Status Build();
  absl::Status WriteConfig();
  absl::Status StartDaemon(int host, const std::vector<std::string>& argv,
                           const std::string& label);
  absl::Status WaitForIdleNodes(absl::Duration timeout);
  // argv wrapped to run on `host`: its network namespace, a UTS namespace
  // with its name, and the bed's environment plus `env`.
  std::vector<std::string> OnHost(int host,
                                  const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env) const;

  std::string dir_;  // /tmp/sdxslurm-XXXXXX
  std::unique_ptr<NetnsHosts> hosts_;
  std::vector<std::unique_ptr<HostProcess>> daemons_;
  bool destroyed_ = false;
};

}  // namespace shardex

#endif  // SHARDEX_DEPLOY_SLURM_SLURM_BED_H_
