// FakeWorkerLink: a WorkerLink that records what the scheduler sends, for
// scheduler tests without sockets.
//
// Thread-safety: safe from any thread.
#ifndef SHARDEX_COORDINATOR_FAKE_WORKER_LINK_H_
#define SHARDEX_COORDINATOR_FAKE_WORKER_LINK_H_

#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/worker_link.h"

namespace shardex {

class FakeWorkerLink : public WorkerLink {
 public:
  void Send(shardex::v1::CoordinatorMessage message) override {
    absl::MutexLock lock(&mu_);
    sent_.push_back(std::move(message));
  }
  void Close(const absl::Status& reason) override {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    close_reason_ = reason;
  }

  // Returns and forgets every task assigned so far.
  std::vector<shardex::v1::ShardTask> TakeTasks() {
    absl::MutexLock lock(&mu_);
    std::vector<shardex::v1::ShardTask> tasks;
    for (const auto& m : sent_) {
      if (!m.has_assignments()) continue;
      for (const auto& t : m.assignments().tasks()) tasks.push_back(t);
    }
    std::vector<shardex::v1::CoordinatorMessage> rest;
    for (auto& m : sent_) {
      if (!m.has_assignments()) rest.push_back(std::move(m));
    }
    sent_ = std::move(rest);
    return tasks;
  }

  std::vector<shardex::v1::CoordinatorMessage> sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  bool closed() const {
    absl::MutexLock lock(&mu_);
    return closed_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<shardex::v1::CoordinatorMessage> sent_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_FAKE_WORKER_LINK_H_
