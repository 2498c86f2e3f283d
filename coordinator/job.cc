#include "coordinator/job.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace shardex {
namespace {

int64_t UnixMillisOrZero(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixMillis(t);
}

}  // namespace

void Job::RecordRuntime(uint64_t us) {
  const int bucket = static_cast<int>(4 * std::log2(1.0 + us));
  ++runtime_hist[std::min(bucket, kRuntimeBuckets - 1)];
  ++runtime_samples;
}

absl::Duration Job::MedianRuntime() const {
  if (runtime_samples == 0) return absl::ZeroDuration();
  uint64_t seen = 0;
  for (int b = 0; b < kRuntimeBuckets; ++b) {
    seen += runtime_hist[b];
    if (2 * seen >= runtime_samples) {
      // The bucket's upper edge: 2^((b+1)/4) - 1 microseconds.
      return absl::Microseconds(std::exp2((b + 1) / 4.0) - 1);
    }
  }
  return absl::InfiniteDuration();
}

shardex::v1::JobStatus Job::Status() const {
  if (archived.has_value()) return *archived;
  shardex::v1::JobStatus s;
  s.set_job_id(id);
  *s.mutable_spec() = spec;
  s.set_state(state);
  s.set_shards_total(total);
  s.set_shards_queued(queue.size());
  s.set_shards_running(running);
  s.set_shards_succeeded(succeeded);
  s.set_shards_failed(failed);
  s.set_shards_cancelled(cancelled);
  s.set_shards_skipped(skipped);
  s.set_retries(retries);
  s.set_submit_time_unix_ms(UnixMillisOrZero(submit_time));
  s.set_start_time_unix_ms(UnixMillisOrZero(start_time));
  s.set_end_time_unix_ms(UnixMillisOrZero(end_time));
  if (state == shardex::v1::JOB_SUCCEEDED) *s.mutable_result() = result;
  s.set_error(error);
  s.set_discarded_results(discarded_results);
  s.set_speculative_attempts(speculative_attempts);
  s.set_result_mismatches(result_mismatches);
  s.set_mismatch(mismatch);
  std::vector<uint64_t> q(quarantined.begin(), quarantined.end());
  std::sort(q.begin(), q.end());
  for (uint64_t id : q) s.add_quarantined_workers(id);
  return s;
}

}  // namespace shardex
