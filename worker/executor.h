// ShardExecutor: runs a worker's assigned shards on its own thread pool and
// reports each outcome through a sink. Knows nothing of gRPC: the session
// (worker/session.cc) feeds it assignments and cancels and ships results.
//
// One executor serves one coordinator session. Destroying it cancels every
// attempt, waits for the running ones to notice, and drops their results.
//
// Thread-safety: all methods are safe from any thread. The sink is called
// from pool threads, never with the executor's lock held.
#ifndef SHARDEX_WORKER_EXECUTOR_H_
#define SHARDEX_WORKER_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/thread_pool.h"
#include "kernels/kernel.h"
#include "proto/shardex.pb.h"

namespace shardex {

class ShardExecutor {
 public:
  using ResultSink = std::function<void(shardex::v1::ShardResult)>;

  ShardExecutor(int threads, ResultSink sink);
  ~ShardExecutor();

  ShardExecutor(const ShardExecutor&) = delete;
  ShardExecutor& operator=(const ShardExecutor&) = delete;

  // Learns the batch's job definitions and queues its tasks. A task of an
  // unknown job, or of a job whose definition the kernel rejects, reports a
  // failed result rather than running.
  void Assign(const shardex::v1::AssignmentBatch& batch);

  // Stops the named attempts (and every attempt of the named jobs). Their
  // results are not reported: the coordinator has already let them go.
  void Cancel(const shardex::v1::CancelShards& cancel);

  // Attempts queued or running.
  size_t InFlight() const;
  int threads() const { return pool_threads_; }

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint32_t>;  // job, shard, attempt

  void Run(const shardex::v1::ShardTask& task,
           std::shared_ptr<const KernelJob> kernel,
           std::shared_ptr<CancelFlag> cancel);

  // Constant after construction.
  const ResultSink sink_;
  const int pool_threads_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<const KernelJob>> jobs_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> bad_jobs_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::shared_ptr<CancelFlag>> attempts_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  // Last: destroyed first, so pool threads stop before the state above.
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_EXECUTOR_H_
