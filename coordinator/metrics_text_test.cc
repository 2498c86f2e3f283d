#include "coordinator/metrics_text.h"

#include <cmath>
#include <limits>

#include "coordinator/metrics_histogram.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(MetricsTextTest, CounterAndGaugeHaveHelpAndType) {
  MetricsText out;
  out.Counter("x_total", "Things.", 3);
  out.Gauge("y", "Level.", 1.5);
  EXPECT_EQ(out.text(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
            "# HELP y Level.\n# TYPE y gauge\ny 1.5\n");
}

TEST(MetricsTextTest, LabelsAreEscaped) {
  MetricsText out;
  out.Gauge("g", "Back\\slash and\nnewline \"quoted\".",
            {MetricSample{{{"a", "x\"y\\z\nw"}, {"b", "2"}}, 7}});
  EXPECT_EQ(out.text(),
            "# HELP g Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE g gauge\n"
            "g{a=\"x\\\"y\\\\z\\nw\",b=\"2\"} 7\n");
}

TEST(MetricsTextTest, SpecialValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-2), "-2");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e20), "1e+20");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()),
            "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTextTest, HistogramBucketsAreCumulative) {
  HistogramData h;
  h.bounds = {0.5, 1};
  h.counts = {2, 1, 4};
  h.sum = 9.25;
  MetricsText out;
  out.Histogram("d_seconds", "Durations.", h);
  EXPECT_EQ(out.text(),
            "# HELP d_seconds Durations.\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{le=\"0.5\"} 2\n"
            "d_seconds_bucket{le=\"1\"} 3\n"
            "d_seconds_bucket{le=\"+Inf\"} 7\n"
            "d_seconds_sum 9.25\n"
            "d_seconds_count 7\n");
}

TEST(LatencyHistogramTest, BoundsAreInclusive) {
  LatencyHistogram h({1, 2});
  h.Observe(0.5);
  h.Observe(1);  // le="1" holds 1 itself
  h.Observe(1.5);
  h.Observe(10);
  HistogramData d = h.Snapshot();
  ASSERT_EQ(d.counts.size(), 3u);
  EXPECT_EQ(d.counts[0], 2u);
  EXPECT_EQ(d.counts[1], 1u);
  EXPECT_EQ(d.counts[2], 1u);
  EXPECT_DOUBLE_EQ(d.sum, 13);
}

}  // namespace
}  // namespace shardex
