// LatencyHistogram: counts observations (in seconds) into fixed buckets,
// for the coordinator's /metrics (coordinator/metrics.h). Cheap enough to
// call on every shard result and journal commit: a lock-free search of the
// bounds and one short mutex hold.
//
// Thread-safety: Observe and Snapshot may be called from any thread; the
// histogram's own mutex is a leaf (nothing is called under it), so it may
// be used under the Scheduler's lock.
#ifndef SHARDEX_COORDINATOR_METRICS_HISTOGRAM_H_
#define SHARDEX_COORDINATOR_METRICS_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/metrics_text.h"

namespace shardex {

class LatencyHistogram {
 public:
  // `bounds`: ascending upper bounds in seconds, without +Inf.
  explicit LatencyHistogram(std::vector<double> bounds);

  // Bounds for shard run times: 1 ms to about 3 hours.
  static std::vector<double> ShardBounds();
  // Bounds for journal commits: 100 us to 10 s.
  static std::vector<double> CommitBounds();

  void Observe(double seconds) ABSL_LOCKS_EXCLUDED(mu_);
  HistogramData Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_METRICS_HISTOGRAM_H_
