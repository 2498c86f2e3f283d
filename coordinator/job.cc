#include "coordinator/job.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "kernels/split.h"

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

ShardRange Job::RangeOf(uint64_t shard) const {
  if (adaptive) return carved[shard].range;
  return ShardRangeOf(domain, total, shard);
}

uint64_t Job::AddShard(ShardRange range, bool first) {
  const uint64_t index = total++;
  shards.emplace_back();
  payloads.emplace_back();
  carved.push_back(CarvedShard{range, 0});
  if (first) {
    queue.push_front(index);
  } else {
    queue.push_back(index);
  }
  return index;
}

bool Job::CoversRange(uint64_t shard, uint32_t attempt, uint64_t end) const {
  if (!adaptive) return end == 0;
  const CarvedShard& c = carved[shard];
  if (end != 0) return end == c.range.end;
  return attempt > c.stale_upto;
}

uint64_t Job::SplitShard(uint64_t shard, uint64_t at) {
  CarvedShard& c = carved[shard];
  const ShardRange rest{at, c.range.end};
  c.range.end = at;
  c.stale_upto = std::max(c.stale_upto, shards[shard].attempt);
  ++splits;
  return AddShard(rest, /*first=*/true);
}

uint32_t Job::StartAttempt(uint64_t shard, uint64_t worker_id, absl::Time now,
                           bool speculative) {
  ShardSlot& slot = shards[shard];
  if (slot.state != shardex::v1::SHARD_RUNNING) {
    slot.state = shardex::v1::SHARD_RUNNING;
    ++running;
  }
  ++slot.attempt;
  if (speculative) {
    ++speculative_attempts;
  } else if (slot.attempt > 1) {
    ++retries;
  }
  slot.running.push_back(
      RunningAttempt{slot.attempt, worker_id, now, speculative});
  if (state == shardex::v1::JOB_QUEUED) {
    state = shardex::v1::JOB_RUNNING;
    start_time = now;
  }
  return slot.attempt;
}

void Job::AdoptAttempt(uint64_t shard, uint32_t attempt, uint64_t worker_id,
                       absl::Time now) {
  ShardSlot& slot = shards[shard];
  if (slot.state == shardex::v1::SHARD_QUEUED) {
    queue.erase(std::find(queue.begin(), queue.end(), shard));
    slot.state = shardex::v1::SHARD_RUNNING;
    ++running;
    if (state == shardex::v1::JOB_QUEUED) {
      state = shardex::v1::JOB_RUNNING;
      start_time = now;
    }
  }
  // Attempt numbers go on from the highest seen, across restarts too.
  slot.attempt = std::max(slot.attempt, attempt);
  slot.running.push_back(RunningAttempt{attempt, worker_id, now});
}

std::optional<RunningAttempt> Job::EndAttempt(
    uint64_t shard, uint64_t worker_id, std::optional<uint32_t> attempt) {
  auto& running = shards[shard].running;
  for (auto it = running.begin(); it != running.end(); ++it) {
    if (it->worker_id == worker_id &&
        (!attempt.has_value() || it->attempt == *attempt)) {
      RunningAttempt ended = *it;
      running.erase(it);
      return ended;
    }
  }
  return std::nullopt;
}

void Job::Requeue(uint64_t shard) {
  ShardSlot& slot = shards[shard];
  if (slot.state == shardex::v1::SHARD_RUNNING) --running;
  slot.state = shardex::v1::SHARD_QUEUED;
  queue.push_front(shard);  // retried before fresh shards
}

void Job::AcceptPayload(uint64_t shard, const std::string& payload,
                        uint64_t runtime_us) {
  ShardSlot& slot = shards[shard];
  if (slot.state == shardex::v1::SHARD_RUNNING) {
    --running;
  } else {  // queued again (its worker was lost) when this result came
    queue.erase(std::find(queue.begin(), queue.end(), shard));
  }
  const double us = static_cast<double>(runtime_us);
  avg_runtime_us = avg_runtime_us < 0 ? us : 0.9 * avg_runtime_us + 0.1 * us;
  RecordRuntime(runtime_us);
  slot.state = shardex::v1::SHARD_SUCCEEDED;
  slot.payload_hash = absl::Hash<std::string>{}(payload);
  payloads[shard] = payload;
  ++succeeded;
}

std::vector<std::pair<uint64_t, RunningAttempt>> Job::SkipFrom(uint64_t from) {
  cutoff = from;
  std::vector<std::pair<uint64_t, RunningAttempt>> stopped;
  std::vector<bool> skip(total, false);
  for (uint64_t i = 0; i < total; ++i) {
    ShardSlot& slot = shards[i];
    if (slot.state != shardex::v1::SHARD_QUEUED &&
        slot.state != shardex::v1::SHARD_RUNNING) {
      continue;
    }
    if (RangeOf(i).begin < from) continue;
    for (const RunningAttempt& a : slot.running) stopped.emplace_back(i, a);
    slot.running.clear();
    if (slot.state == shardex::v1::SHARD_RUNNING) --running;
    slot.state = shardex::v1::SHARD_CANCELLED;
    skip[i] = true;
    ++skipped;
    if (adaptive) units_done += carved[i].range.end - carved[i].range.begin;
  }
  queue.erase(std::remove_if(queue.begin(), queue.end(),
                             [&](uint64_t i) { return skip[i]; }),
              queue.end());
  units_done += carver.TruncateAt(from);  // nothing above is carved now
  return stopped;
}

void Job::CancelUnfinished() {
  for (ShardSlot& slot : shards) {
    if (slot.state == shardex::v1::SHARD_QUEUED ||
        slot.state == shardex::v1::SHARD_RUNNING) {
      slot.state = shardex::v1::SHARD_CANCELLED;
      ++cancelled;
    }
  }
  queue.clear();
  running = 0;
}

uint64_t Job::Archive() {
  shards.clear();
  shards.shrink_to_fit();
  payloads.clear();
  payloads.shrink_to_fit();
  carved.clear();
  carved.shrink_to_fit();
  carver = RangeCarver();
  cost_by_worker.clear();
  queue.clear();
  queue.shrink_to_fit();
  kernel.reset();
  attempts.ShrinkToFit();
  return spec_bytes + result.ByteSizeLong() + error.size() + mismatch.size() +
         attempts.bytes();
}

shardex::v1::JobStatus Job::Status(JobView view) const {
  if (archived.has_value()) {
    shardex::v1::JobStatus s = *archived;
    if (view == JobView::kProgress) s.clear_spec();
    s.set_summary(summary);
    return s;
  }
  shardex::v1::JobStatus s;
  s.set_job_id(id);
  if (view == JobView::kFull) *s.mutable_spec() = spec;
  s.set_summary(summary);
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
  if (adaptive) {
    s.set_adaptive(true);
    s.set_units_total(domain.hi - domain.lo);
    s.set_units_done(units_done);
    s.set_splits(splits);
  }
  return s;
}

}  // namespace shardex
