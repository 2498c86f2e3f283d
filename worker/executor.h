// ShardExecutor: runs a worker's assigned shards and reports each outcome
// through a sink: kernel shards on a pool of --threads threads, command
// shards as child processes, at most --processes at once (each waited on by
// one thread of a second pool). Knows nothing of gRPC: the session
// (worker/worker.cc) feeds it assignments and cancels and ships results.
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

  struct Options {
    int threads = 1;
    int processes = 1;
    std::string scratch_root = "/tmp";  // per-shard dirs of command shards
  };

  ShardExecutor(Options options, ResultSink sink);
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

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint32_t>;  // job, shard, attempt

  // What the executor knows of a job: a kernel, or a command.
  struct JobEntry {
    std::shared_ptr<const KernelJob> kernel;
    std::shared_ptr<const shardex::v1::CommandSpec> command;
    uint64_t shards = 0;
  };

  void Run(const shardex::v1::ShardTask& task, const JobEntry& job,
           std::shared_ptr<CancelFlag> cancel);

  // Constant after construction.
  const ResultSink sink_;
  const Options options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, JobEntry> jobs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> bad_jobs_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::shared_ptr<CancelFlag>> attempts_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  // Last: destroyed first, so pool threads stop before the state above.
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ThreadPool> process_pool_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_EXECUTOR_H_
