#include "coordinator/job.h"

namespace shardex {
namespace {

int64_t UnixMillisOrZero(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixMillis(t);
}

}  // namespace

shardex::v1::JobStatus Job::Status() const {
  shardex::v1::JobStatus s;
  s.set_job_id(id);
  *s.mutable_spec() = spec;
  s.set_state(state);
  s.set_shards_total(shards.size());
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
  return s;
}

}  // namespace shardex
