// ClusterView: what the dashboard reads of the cluster, and its one action.
// The coordinator implements it over its Scheduler (coordinator/server.cc;
// the methods of the same names); tests over a fake. Keeping the dashboard
// behind this interface keeps HTTP apart from scheduling.
//
// Thread-safety: implementations must be safe to call from any thread.
#ifndef SHARDEX_DASHBOARD_CLUSTER_VIEW_H_
#define SHARDEX_DASHBOARD_CLUSTER_VIEW_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/shardex.pb.h"

namespace shardex {

class ClusterView {
 public:
  virtual ~ClusterView() = default;

  // The newest jobs, in the progress view (no spec).
  virtual std::vector<shardex::v1::JobStatus> ListJobs() const = 0;
  // One job in the full view (with its spec); NOT_FOUND if unknown.
  virtual absl::StatusOr<shardex::v1::JobStatus> GetJob(
      uint64_t job_id) const = 0;
  virtual std::vector<shardex::v1::WorkerInfo> ListWorkers() const = 0;
  // A page of the job's shard log.
  virtual absl::StatusOr<shardex::v1::ListAttemptsResponse> ListAttempts(
      const shardex::v1::ListAttemptsRequest& request) const = 0;
  virtual absl::StatusOr<shardex::v1::JobStatus> Cancel(uint64_t job_id) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_CLUSTER_VIEW_H_
