#include "coordinator/retention.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace shardex {

Retention::Retention(const SchedulerOptions& options) : options_(options) {}

absl::Status Retention::CheckAdmission(uint64_t active_jobs,
                                       uint64_t spec_bytes) const {
  const uint64_t in_flight = active_jobs + submits_in_progress_;
  if (in_flight >= options_.max_jobs_in_flight) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many jobs in flight: ", in_flight,
        " queued or running, the coordinator's limit (raise it with "
        "--max-jobs); retry when some have ended"));
  }
  if (held_bytes_ + spec_bytes > options_.max_held_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the coordinator holds ", held_bytes_,
        " bytes of job specs and results in memory, near its limit of ",
        options_.max_held_bytes,
        " (raise it with --max-held-bytes); retry when running jobs have "
        "ended"));
  }
  return absl::OkStatus();
}

absl::Status Retention::CheckRoomFor(uint64_t shards, uint64_t needed) const {
  if (needed <= options_.max_held_bytes &&
      held_bytes_ <= options_.max_held_bytes - needed) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("this job's ", shards, " shards need about ", needed,
                   " bytes of coordinator memory; it holds ", held_bytes_,
                   " of its limit of ", options_.max_held_bytes,
                   " (raise it with --max-held-bytes, or use fewer shards)"));
}

std::optional<uint64_t> Retention::FindRequest(
    const std::string& request_id) const {
  if (request_id.empty()) return std::nullopt;
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return std::nullopt;
  return it->second;
}

void Retention::Reserve(const std::string& request_id) {
  ++submits_in_progress_;
  if (!request_id.empty()) requests_[request_id] = 0;
}

void Retention::Unreserve(const std::string& request_id) {
  --submits_in_progress_;
  if (!request_id.empty()) requests_.erase(request_id);
}

void Retention::Bind(const std::string& request_id, uint64_t job_id) {
  --submits_in_progress_;
  if (!request_id.empty()) requests_[request_id] = job_id;
}

void Retention::Recovered(const std::string& request_id, uint64_t job_id) {
  if (!request_id.empty()) requests_[request_id] = job_id;
}

void Retention::SetHeld(Job& job, uint64_t bytes) {
  held_bytes_ = held_bytes_ - job.held_bytes + bytes;
  job.held_bytes = bytes;
}

void Retention::MarkEnded(const Job& job) {
  ended_.push_back(Ended{job.id, job.held_bytes, job.request_id});
  ended_held_bytes_ += job.held_bytes;
}

void Retention::Forget(const Ended& ended) {
  ended_held_bytes_ -= ended.held_bytes;
  held_bytes_ -= ended.held_bytes;
  auto req = requests_.find(ended.request_id);
  if (req != requests_.end() && req->second == ended.job_id) {
    requests_.erase(req);
  }
}

std::vector<uint64_t> Retention::TakeJobsToForget(uint64_t keep) {
  std::vector<uint64_t> forgotten;
  const uint64_t max_records = std::max<uint64_t>(options_.max_job_records, 1);
  while (ended_.size() > max_records) {
    Forget(ended_.front());
    forgotten.push_back(ended_.front().job_id);
    ended_.pop_front();
  }
  // Forgetting ended jobs helps only if what running jobs hold fits.
  const uint64_t max_bytes = options_.max_held_bytes;
  if (held_bytes_ <= max_bytes || held_bytes_ - ended_held_bytes_ > max_bytes) {
    return forgotten;
  }
  for (auto it = ended_.begin();
       it != ended_.end() && held_bytes_ > max_bytes;) {
    if (it->job_id == keep) {
      ++it;
      continue;
    }
    Forget(*it);
    forgotten.push_back(it->job_id);
    it = ended_.erase(it);
  }
  return forgotten;
}

}  // namespace shardex
