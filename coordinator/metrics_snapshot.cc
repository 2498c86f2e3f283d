#include "coordinator/metrics_snapshot.h"

namespace shardex {

void ShardTotals::Add(const shardex::v1::JobStatus& job) {
  succeeded += job.shards_succeeded();
  failed += job.shards_failed();
  cancelled += job.shards_cancelled();
  skipped += job.shards_skipped();
  retries += job.retries();
  speculative_attempts += job.speculative_attempts();
  discarded_results += job.discarded_results();
  result_mismatches += job.result_mismatches();
}

}  // namespace shardex
