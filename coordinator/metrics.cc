#include "coordinator/metrics.h"

#include <utility>
#include <vector>

#include "coordinator/metrics_text.h"

namespace shardex {
namespace {

namespace v1 = shardex::v1;

// Every state is written, 0 included, so a series never vanishes.
std::vector<MetricSample> JobsByState(const SchedulerMetrics& m) {
  const std::pair<v1::JobState, const char*> states[] = {
      {v1::JOB_QUEUED, "queued"},       {v1::JOB_RUNNING, "running"},
      {v1::JOB_SUCCEEDED, "succeeded"}, {v1::JOB_FAILED, "failed"},
      {v1::JOB_CANCELLED, "cancelled"},
  };
  std::vector<MetricSample> out;
  for (const auto& [state, name] : states) {
    auto it = m.jobs_by_state.find(state);
    out.push_back({{{"state", name}},
                   it == m.jobs_by_state.end() ? 0.0
                                               : static_cast<double>(it->second)});
  }
  return out;
}

MetricSample Labelled(const char* label, const char* value, double v) {
  return MetricSample{{{label, value}}, v};
}

}  // namespace

std::string RenderMetrics(const SchedulerMetrics& m) {
  MetricsText out;
  const ShardTotals& t = m.totals;
  out.Gauge("shardex_jobs",
            "Jobs the coordinator holds, by state (ended jobs until "
            "retention forgets them).",
            JobsByState(m));
  out.Gauge("shardex_shards",
            "Shards of unfinished jobs waiting for a worker (queued) or "
            "running.",
            {Labelled("state", "queued", m.shards_queued),
             Labelled("state", "running", m.shards_running)});
  out.Counter("shardex_shards_completed_total",
              "Shards that ended, by outcome: succeeded, failed (every "
              "attempt failed), cancelled, skipped (made unnecessary by an "
              "early answer).",
              {Labelled("outcome", "succeeded", t.succeeded),
               Labelled("outcome", "failed", t.failed),
               Labelled("outcome", "cancelled", t.cancelled),
               Labelled("outcome", "skipped", t.skipped)});
  out.Histogram("shardex_shard_duration_seconds",
                "Run time of accepted shard results, as the worker measured "
                "it.",
                m.shard_seconds);
  out.Counter("shardex_shard_retries_total",
              "Attempts started beyond each shard's first.", t.retries);
  out.Counter("shardex_speculative_attempts_total",
              "Backup attempts started for straggling shards.",
              t.speculative_attempts);
  out.Counter("shardex_discarded_results_total",
              "Results dropped because their shard was already accepted.",
              t.discarded_results);
  out.Counter("shardex_result_mismatches_total",
              "Late results whose payload differed from the accepted one.",
              t.result_mismatches);
  out.Gauge("shardex_workers",
            "Workers by state: connected (all), busy (running an attempt), "
            "idle (nothing to run, not draining), draining, quarantined (by "
            "an unfinished job).",
            {Labelled("state", "connected", m.workers_connected),
             Labelled("state", "busy", m.workers_busy),
             Labelled("state", "idle", m.workers_idle),
             Labelled("state", "draining", m.workers_draining),
             Labelled("state", "quarantined", m.workers_quarantined)});
  out.Gauge("shardex_slots", "Slots of all connected workers.",
            m.slots_total);
  out.Gauge("shardex_slots_busy", "Slots running an attempt.", m.slots_busy);
  out.Gauge("shardex_worker_cpu_utilization_ratio",
            "Mean busy share (0..1) of the workers' hosts' CPUs, from their "
            "heartbeats.",
            m.workers_connected == 0
                ? 0.0
                : m.cpu_utilization_sum / m.workers_connected);
  out.Gauge("shardex_worker_memory_bytes",
            "Memory of the workers' hosts, summed over workers: total, and "
            "available (MemAvailable).",
            {Labelled("kind", "total", m.memory_total_bytes),
             Labelled("kind", "available", m.memory_available_bytes)});
  out.Gauge("shardex_worker_load1",
            "1-minute load averages of the workers' hosts, summed over "
            "workers.",
            m.load1_sum);
  out.Histogram("shardex_journal_commit_duration_seconds",
                "Time to append (and when needed fsync) a batch of journal "
                "records in the state directory.",
                m.journal_commit_seconds);
  out.Counter("shardex_rpc_errors_total",
              "Calls of the coordinator's gRPC port that ended with an "
              "error, by status code.",
              m.rpc_errors);
  return out.text();
}

}  // namespace shardex
