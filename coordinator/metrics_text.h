// A writer of the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): what the
// coordinator's /metrics serves (coordinator/metrics.h). It knows the
// format, nothing about shardex: every family gets its # HELP and # TYPE
// lines, label values and help text are escaped, histograms get their
// cumulative _bucket{le=...} series (ending with +Inf), _sum and _count.
//
// Each family is written in one call, so its samples stay together (the
// format requires it). Names are the caller's: follow Prometheus' naming
// (base units, _total for counters, _seconds for times); they are checked
// only in debug builds.
//
// Thread-safety: none; one writer per response.
#ifndef SHARDEX_COORDINATOR_METRICS_TEXT_H_
#define SHARDEX_COORDINATOR_METRICS_TEXT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace shardex {

// One label set: (name, value) pairs, in the order they are written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// One sample of a counter or gauge family.
struct MetricSample {
  MetricLabels labels;
  double value = 0;
};

// A histogram's state: `bounds` are the upper bounds of the buckets
// (ascending, without +Inf); `counts[i]` the observations in bucket i alone
// (not cumulative), with one more entry for those above every bound.
struct HistogramData {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // bounds.size() + 1 entries
  double sum = 0;
};

class MetricsText {
 public:
  // A family of one unlabelled sample.
  void Counter(absl::string_view name, absl::string_view help, double value);
  void Gauge(absl::string_view name, absl::string_view help, double value);
  // Families of labelled samples (one per label set).
  void Counter(absl::string_view name, absl::string_view help,
               const std::vector<MetricSample>& samples);
  void Gauge(absl::string_view name, absl::string_view help,
             const std::vector<MetricSample>& samples);
  void Histogram(absl::string_view name, absl::string_view help,
                 const HistogramData& data);

  // The text so far.
  const std::string& text() const { return out_; }

  // The Content-Type of the format.
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void Header(absl::string_view name, absl::string_view help,
              absl::string_view type);
  void Sample(absl::string_view name, const MetricLabels& labels,
              double value);

  std::string out_;
};

// A value as the format writes it: integers without a fraction, +Inf,
// -Inf, NaN. Exposed for tests.
std::string FormatMetricValue(double value);

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_METRICS_TEXT_H_
