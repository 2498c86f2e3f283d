// A ClusterView over fixed lists, for the dashboard's tests.
#ifndef SHARDEX_DASHBOARD_FAKE_CLUSTER_VIEW_H_
#define SHARDEX_DASHBOARD_FAKE_CLUSTER_VIEW_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dashboard/cluster_view.h"

namespace shardex {

class FakeClusterView : public ClusterView {
 public:
  std::vector<shardex::v1::JobStatus> jobs;
  std::vector<shardex::v1::WorkerInfo> workers;
  std::vector<shardex::v1::AttemptRecord> attempts;  // of every job
  absl::Status attempts_error;  // if not OK, ListAttempts returns it
  std::vector<uint64_t> cancelled;

  std::vector<shardex::v1::JobStatus> ListJobs() const override {
    return jobs;
  }
  absl::StatusOr<shardex::v1::JobStatus> GetJob(
      uint64_t job_id) const override {
    for (const auto& j : jobs) {
      if (j.job_id() == job_id) return j;
    }
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  std::vector<shardex::v1::WorkerInfo> ListWorkers() const override {
    return workers;
  }
  // Pages of two.
  absl::StatusOr<shardex::v1::ListAttemptsResponse> ListAttempts(
      const shardex::v1::ListAttemptsRequest& request) const override {
    if (!attempts_error.ok()) return attempts_error;
    if (!GetJob(request.job_id()).ok()) {
      return absl::NotFoundError(absl::StrCat("no job ", request.job_id()));
    }
    shardex::v1::ListAttemptsResponse out;
    const uint64_t end =
        std::min<uint64_t>(attempts.size(), request.start() + 2);
    for (uint64_t i = request.start(); i < end; ++i) {
      *out.add_attempts() = attempts[i];
    }
    out.set_next(std::max<uint64_t>(end, request.start()));
    out.set_total(attempts.size());
    out.set_more(end < attempts.size());
    return out;
  }
  absl::StatusOr<shardex::v1::JobStatus> Cancel(uint64_t job_id) override {
    absl::StatusOr<shardex::v1::JobStatus> job = GetJob(job_id);
    if (!job.ok()) return job;
    cancelled.push_back(job_id);
    job->set_state(shardex::v1::JOB_CANCELLED);
    return job;
  }
};

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_FAKE_CLUSTER_VIEW_H_
