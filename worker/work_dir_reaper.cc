#include "worker/work_dir_reaper.h"

#include <utility>

#include "common/file_util.h"
#include "glog/logging.h"

namespace shardex {

namespace {

WorkDirReaper::Options WithDefaults(WorkDirReaper::Options options) {
  if (options.threads < 1) options.threads = 1;
  if (!options.remove) options.remove = RemoveTree;
  return options;
}

}  // namespace

WorkDirReaper::WorkDirReaper(Options options)
    : options_(WithDefaults(std::move(options))) {
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

WorkDirReaper::~WorkDirReaper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();  // they empty pending_ first
}

void WorkDirReaper::Remove(std::string dir) {
  {
    absl::MutexLock lock(&mu_);
    if (pending_.size() < options_.max_pending) {
      pending_.push_back(std::move(dir));
      return;
    }
    ++removed_inline_;
  }
  RemoveNow(dir);
}

void WorkDirReaper::Flush() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.empty() && in_progress_ == 0;
  };
  mu_.Await(absl::Condition(&idle));
}

uint64_t WorkDirReaper::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

uint64_t WorkDirReaper::removed_inline() const {
  absl::MutexLock lock(&mu_);
  return removed_inline_;
}

void WorkDirReaper::Loop() {
  while (true) {
    std::string dir;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !pending_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (pending_.empty()) return;  // stopping, and nothing left
      dir = std::move(pending_.front());
      pending_.pop_front();
      ++in_progress_;
    }
    RemoveNow(dir);
    absl::MutexLock lock(&mu_);
    --in_progress_;
  }
}

void WorkDirReaper::RemoveNow(const std::string& dir) {
  const absl::Status st = options_.remove(dir);
  if (st.ok()) return;
  LOG(WARNING) << "cannot remove a shard's work dir: " << st.message();
  absl::MutexLock lock(&mu_);
  ++failures_;
}

}  // namespace shardex
