// LocalCluster: a whole shardex cluster on this machine — a coordinator
// inside this process and N worker processes (this same binary run as
// `shardex worker`). Backs `shardex local`.
//
// The LocalCluster owns the coordinator, the worker processes and, unless
// given one, a temporary state directory; its destructor removes them all.
//
// Thread-safety: Start, address(), token() and the destructor from one
// thread.
#ifndef SHARDEX_CLI_LOCAL_CLUSTER_H_
#define SHARDEX_CLI_LOCAL_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "coordinator/server.h"

namespace shardex {

struct LocalClusterOptions {
  int workers = 2;
  // Per worker: kernel shards run at once (threads) and command shards
  // run at once (child processes). 0: this host's cores shared among the
  // workers (at least 1); processes 0: as many as threads.
  int threads = 0;
  int processes = 0;
  std::string self_exe;     // path of the shardex binary
  std::string log_level = "error";  // for the worker processes
  // The private cluster runs only the user's own jobs, so it may run their
  // commands too.
  bool allow_commands = true;
  // The coordinator's state directory; empty: a private temporary one,
  // removed at exit.
  std::string state_dir;
  absl::Duration ready_timeout = absl::Seconds(30);
};

// The slots each worker gets: `threads` and `processes` with their 0
// defaults resolved for a host with `cores` cores.
struct LocalSlots {
  int threads = 1;
  int processes = 1;
};
LocalSlots ResolveLocalSlots(const LocalClusterOptions& options, int cores);

class LocalCluster {
 public:
  // Starts the coordinator on a free loopback port and the workers, and
  // waits until every worker has registered.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(
      const LocalClusterOptions& options);
  // Stops the workers (SIGTERM, then SIGKILL) and the coordinator.
  ~LocalCluster();

  // For an interrupted run: has the workers stop at once, handing back
  // (cancelling) the shards they run instead of draining them, and waits
  // for them to exit. The destructor then finds them gone.
  void StopWorkersNow();

  std::string address() const;
  // The access token of the private coordinator.
  const std::string& token() const { return server_->token(); }

 private:
  LocalCluster() = default;

  std::string temp_state_dir_;  // removed by the destructor when set
  std::unique_ptr<CoordinatorServer> server_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
};

}  // namespace shardex

#endif  // SHARDEX_CLI_LOCAL_CLUSTER_H_
