#include "coordinator/metrics_histogram.h"

#include <algorithm>
#include <utility>

namespace shardex {

LatencyHistogram::LatencyHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

std::vector<double> LatencyHistogram::ShardBounds() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,    5,
          10,    30,    60,   300,  900, 1800, 3600, 10800};
}

std::vector<double> LatencyHistogram::CommitBounds() {
  return {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,    0.25,  0.5,    1,     2.5,  10};
}

void LatencyHistogram::Observe(double seconds) {
  // The first bucket whose bound is >= seconds (le is inclusive).
  const size_t i =
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
      bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[i];
  sum_ += seconds;
}

HistogramData LatencyHistogram::Snapshot() const {
  HistogramData data;
  data.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  data.counts = counts_;
  data.sum = sum_;
  return data;
}

}  // namespace shardex
