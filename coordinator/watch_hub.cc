#include "coordinator/watch_hub.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace shardex {

WatchHub::WatchHub(Scheduler* scheduler, absl::Duration interval)
    : scheduler_(scheduler),
      interval_(interval),
      thread_([this] { PublishLoop(); }) {}

WatchHub::~WatchHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status WatchHub::Subscribe(uint64_t job_id,
                                 std::shared_ptr<JobWatcher> watcher) {
  // The first status carries the spec. It is posted before the watcher is
  // registered, so no update (without the spec) can overtake it; marking
  // the job dirty then sends whatever changed in between.
  absl::StatusOr<shardex::v1::JobStatus> status =
      scheduler_->GetJob(job_id, JobView::kFull);
  if (!status.ok()) return status.status();
  watcher->Post(*status);
  if (IsTerminal(status->state())) return absl::OkStatus();  // said it all
  absl::MutexLock lock(&mu_);
  watchers_[job_id].insert(std::move(watcher));
  dirty_.insert(job_id);
  return absl::OkStatus();
}

void WatchHub::Unsubscribe(uint64_t job_id, const JobWatcher* watcher) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(job_id);
  if (it == watchers_.end()) return;
  for (auto w = it->second.begin(); w != it->second.end(); ++w) {
    if (w->get() == watcher) {
      it->second.erase(w);
      break;
    }
  }
  if (it->second.empty()) watchers_.erase(it);
}

absl::Status WatchHub::AddStream() {
  const uint64_t max = scheduler_->options().max_watch_streams;
  absl::MutexLock lock(&mu_);
  if (streams_ >= max) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many WatchJob streams: ", streams_,
        " open, the coordinator's limit (raise it with --max-watch-streams); "
        "poll GetJob instead"));
  }
  ++streams_;
  return absl::OkStatus();
}

void WatchHub::RemoveStream() {
  absl::MutexLock lock(&mu_);
  if (streams_ > 0) --streams_;
}

void WatchHub::OnJobChanged(uint64_t job_id, bool terminal) {
  absl::MutexLock lock(&mu_);
  if (watchers_.count(job_id) == 0) return;
  dirty_.insert(job_id);
  if (terminal) urgent_ = true;
}

void WatchHub::PublishLoop() {
  while (true) {
    std::map<uint64_t, std::set<std::shared_ptr<JobWatcher>>> targets;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || urgent_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&wake), interval_);
      if (stopping_) return;
      urgent_ = false;
      for (uint64_t job_id : dirty_) {
        auto it = watchers_.find(job_id);
        if (it != watchers_.end()) targets[job_id] = it->second;
      }
      dirty_.clear();
    }
    for (auto& [job_id, watchers] : targets) {
      absl::StatusOr<shardex::v1::JobStatus> status =
          scheduler_->GetJob(job_id, JobView::kProgress);
      if (!status.ok()) {  // forgotten: its watchers would wait forever
        for (const auto& w : watchers) {
          w->End(status.status());
          Unsubscribe(job_id, w.get());
        }
        continue;
      }
      const bool terminal = IsTerminal(status->state());
      for (const auto& w : watchers) {
        w->Post(*status);
        if (terminal) Unsubscribe(job_id, w.get());
      }
    }
  }
}

}  // namespace shardex
