// SimCluster: the simulated workers of bench/scheduler_sim.h. Each has a
// WorkerLink for the Scheduler (Send only queues, as the gRPC link does),
// a number of slots and a run time per shard. Assigned tasks wait for a
// free slot (prefetched ones queue, as in worker/executor.h); a cancelled
// attempt stops without a result; attempts that finish by the same instant
// are reported in one ResultBatch per worker, as the worker's outbox sends
// what is waiting. No threads and no real time: the caller moves the clock.
//
// Thread-safety: the links may be called from any thread (the scheduler's
// reducer thread sends the job's end); everything else from one thread.
#ifndef SHARDEX_BENCH_SIM_CLUSTER_H_
#define SHARDEX_BENCH_SIM_CLUSTER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/shard_ref_key.h"
#include "coordinator/worker_link.h"
#include "proto/shardex.pb.h"

namespace shardex {

class SimCluster {
 public:
  // Worker i runs every shard in run_times[i], on `slots` slots; each
  // successful shard's payload is `payload`.
  SimCluster(std::vector<absl::Duration> run_times, uint32_t slots,
             std::string payload);

  uint32_t size() const { return static_cast<uint32_t>(workers_.size()); }
  absl::Duration run_time(uint32_t i) const { return workers_[i].run_time; }
  // The link worker i registers with, and the id the scheduler gave it.
  std::shared_ptr<WorkerLink> Link(uint32_t i);
  void SetId(uint32_t i, uint64_t id) { workers_[i].id = id; }
  uint64_t id(uint32_t i) const { return workers_[i].id; }

  // Hands everything the scheduler sent to the workers; tasks that get a
  // free slot start at `now`.
  void Deliver(absl::Time now);
  // When the next attempt ends (InfiniteFuture: none runs).
  absl::Time NextFinish() const;
  // The attempts that ended by `now`, as (worker, batch) in the order the
  // workers' first ones ended. Each worker's next waiting task starts when
  // its slot freed, not when the coordinator hears of it.
  std::vector<std::pair<uint32_t, v1::ResultBatch>> TakeFinished(
      absl::Time now);
  // Not OK once the scheduler closed a link (a worker dropped).
  absl::Status closed() const;

 private:
  // What the links sent, by worker. Filled from any thread.
  class Mailbox {
   public:
    void Post(uint32_t worker, v1::CoordinatorMessage message);
    void Closed(uint32_t worker, const absl::Status& reason);
    std::vector<std::pair<uint32_t, v1::CoordinatorMessage>> Take();
    absl::Status closed() const;

   private:
    mutable absl::Mutex mu_;
    std::vector<std::pair<uint32_t, v1::CoordinatorMessage>> items_
        ABSL_GUARDED_BY(mu_);
    absl::Status closed_ ABSL_GUARDED_BY(mu_);
  };
  class SimLink;

  struct Worker {
    uint64_t id = 0;  // the scheduler's
    absl::Duration run_time;
    uint32_t busy = 0;  // slots running an attempt
    std::deque<v1::ShardRef> waiting;  // assigned ahead of a free slot
    absl::flat_hash_set<ShardRefKey> running;
  };
  // An attempt that ends at `at` unless cancelled first.
  struct Finish {
    absl::Time at;
    uint32_t worker;
    ShardRefKey key;
  };
  struct LaterFirst {
    bool operator()(const Finish& a, const Finish& b) const;
  };

  static void Cancel(Worker& w, const v1::CancelShards& cancel);
  // Starts waiting attempts on worker i's free slots at `at`.
  void StartWaiting(uint32_t i, absl::Time at);

  const uint32_t slots_;
  const std::string payload_;
  // Shared with the links, which the scheduler may hold beyond this object.
  const std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  std::vector<Worker> workers_;
  std::priority_queue<Finish, std::vector<Finish>, LaterFirst> finishes_;
};

}  // namespace shardex

#endif  // SHARDEX_BENCH_SIM_CLUSTER_H_
