// The coordinator's Prometheus metrics: RenderMetrics turns a
// SchedulerMetrics snapshot (coordinator/metrics_snapshot.h) into the text
// /metrics serves (coordinator/metrics_text.h; docs/operations.md lists
// the metrics). Names follow Prometheus' conventions: shardex_ prefix,
// base units (seconds), _total for counters. Labels are from small fixed
// sets (job state, shard outcome, worker state): no job or worker ids.
#ifndef SHARDEX_COORDINATOR_METRICS_H_
#define SHARDEX_COORDINATOR_METRICS_H_

#include <string>

#include "coordinator/metrics_snapshot.h"

namespace shardex {

std::string RenderMetrics(const SchedulerMetrics& m);

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_METRICS_H_
