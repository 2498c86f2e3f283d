// NullLink: the fuzz targets' stand-in for a worker's stream. It keeps the
// shard tasks the scheduler sends (so a harness can check them) and drops
// everything else, after serializing it (which checks every message is
// well-formed and costs what a real stream would).
//
// Thread-safety: safe from any thread.
#ifndef SHARDEX_FUZZ_NULL_LINK_H_
#define SHARDEX_FUZZ_NULL_LINK_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/worker_link.h"

namespace shardex {
namespace fuzz {

class NullLink : public WorkerLink {
 public:
  void Send(shardex::v1::CoordinatorMessage message) override {
    message.ByteSizeLong();
    absl::MutexLock lock(&mu_);
    for (const shardex::v1::ShardTask& task : message.assignments().tasks()) {
      tasks_.push_back(task);
    }
  }
  void Close(const absl::Status&) override {}

  std::vector<shardex::v1::ShardTask> tasks() const {
    absl::MutexLock lock(&mu_);
    return tasks_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<shardex::v1::ShardTask> tasks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fuzz
}  // namespace shardex

#endif  // SHARDEX_FUZZ_NULL_LINK_H_
