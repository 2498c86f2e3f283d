// SchedulerMetrics: what the Scheduler tells /metrics (coordinator/
// metrics.h), read in one short hold of its lock (Scheduler::Metrics).
// Plain data; no job or worker ids, so nothing here grows with the number
// of jobs or workers.
#ifndef SHARDEX_COORDINATOR_METRICS_SNAPSHOT_H_
#define SHARDEX_COORDINATOR_METRICS_SNAPSHOT_H_

#include <cstdint>
#include <map>
#include <vector>

#include "coordinator/metrics_text.h"
#include "proto/shardex.pb.h"

namespace shardex {

// Per-shard event counts summed over jobs. Only ever grows while the
// coordinator runs: the counts of jobs it forgets (retention) are kept.
struct ShardTotals {
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t cancelled = 0;
  uint64_t skipped = 0;
  uint64_t retries = 0;
  uint64_t speculative_attempts = 0;
  uint64_t discarded_results = 0;
  uint64_t result_mismatches = 0;

  // Adds one job's counts (from its status).
  void Add(const shardex::v1::JobStatus& job);
};

struct SchedulerMetrics {
  // The jobs the coordinator holds (ended ones until retention forgets
  // them), by state.
  std::map<shardex::v1::JobState, uint64_t> jobs_by_state;
  // Shards of unfinished jobs waiting for a worker, and running.
  uint64_t shards_queued = 0;
  uint64_t shards_running = 0;
  ShardTotals totals;
  // Connected workers: busy holds an attempt, idle holds none and is not
  // draining; quarantined is quarantined by at least one unfinished job.
  uint64_t workers_connected = 0;
  uint64_t workers_busy = 0;
  uint64_t workers_idle = 0;
  uint64_t workers_draining = 0;
  uint64_t workers_quarantined = 0;
  uint64_t slots_total = 0;
  uint64_t slots_busy = 0;
  // Sums over connected workers of their hosts' last heartbeat (a host
  // with several workers counts once per worker).
  double cpu_utilization_sum = 0;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;
  double load1_sum = 0;
  // Run times of accepted shard results, and journal commits.
  HistogramData shard_seconds;
  HistogramData journal_commit_seconds;
  // Calls of the gRPC port that ended in an error, by code (set by the
  // server from its RpcErrorCounts, coordinator/metrics_rpc.h).
  std::vector<MetricSample> rpc_errors;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_METRICS_SNAPSHOT_H_
