#include "coordinator/metrics_text.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shardex {
namespace {

// HELP text escapes backslash and newline; label values also the quote.
std::string Escape(absl::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  // The shortest of 15 or 17 significant digits that reads back exactly.
  std::string short_form = absl::StrFormat("%.15g", value);
  if (std::strtod(short_form.c_str(), nullptr) == value) return short_form;
  return absl::StrFormat("%.17g", value);
}

void MetricsText::Header(absl::string_view name, absl::string_view help,
                         absl::string_view type) {
  absl::StrAppend(&out_, "# HELP ", name, " ", Escape(help, false), "\n",
                  "# TYPE ", name, " ", type, "\n");
}

void MetricsText::Sample(absl::string_view name, const MetricLabels& labels,
                         double value) {
  absl::StrAppend(&out_, name);
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      absl::StrAppend(&out_, labels[i].first, "=\"",
                      Escape(labels[i].second, true), "\"");
    }
    out_ += '}';
  }
  absl::StrAppend(&out_, " ", FormatMetricValue(value), "\n");
}

void MetricsText::Counter(absl::string_view name, absl::string_view help,
                          double value) {
  Counter(name, help, {MetricSample{{}, value}});
}

void MetricsText::Gauge(absl::string_view name, absl::string_view help,
                        double value) {
  Gauge(name, help, {MetricSample{{}, value}});
}

void MetricsText::Counter(absl::string_view name, absl::string_view help,
                          const std::vector<MetricSample>& samples) {
  Header(name, help, "counter");
  for (const MetricSample& s : samples) Sample(name, s.labels, s.value);
}

void MetricsText::Gauge(absl::string_view name, absl::string_view help,
                        const std::vector<MetricSample>& samples) {
  Header(name, help, "gauge");
  for (const MetricSample& s : samples) Sample(name, s.labels, s.value);
}

void MetricsText::Histogram(absl::string_view name, absl::string_view help,
                            const HistogramData& data) {
  Header(name, help, "histogram");
  const std::string bucket = absl::StrCat(name, "_bucket");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < data.bounds.size(); ++i) {
    if (i < data.counts.size()) cumulative += data.counts[i];
    Sample(bucket, {{"le", FormatMetricValue(data.bounds[i])}}, cumulative);
  }
  for (size_t i = data.bounds.size(); i < data.counts.size(); ++i) {
    cumulative += data.counts[i];
  }
  Sample(bucket, {{"le", "+Inf"}}, cumulative);
  Sample(absl::StrCat(name, "_sum"), {}, data.sum);
  Sample(absl::StrCat(name, "_count"), {}, cumulative);
}

}  // namespace shardex
