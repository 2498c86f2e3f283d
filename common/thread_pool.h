// ThreadPool: a fixed set of threads running queued closures in FIFO order.
// Workers run shards on it, never on gRPC threads.
//
// Thread-safety: Schedule() may be called from any thread. The destructor
// runs every task already queued, then joins the threads.
#ifndef SHARDEX_COMMON_THREAD_POOL_H_
#define SHARDEX_COMMON_THREAD_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shardex {

class ThreadPool {
 public:
  // Starts `num_threads` threads (at least one).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Schedule(std::function<void()> task);
  // Queues `tasks` in order under one hold of the lock (a worker queues a
  // whole batch of assignments at once).
  void ScheduleAll(std::vector<std::function<void()>> tasks);

  // Tasks queued and not yet started.
  size_t QueueLength() const;
  int num_threads() const { return static_cast<int>(threads_.size()); }

 private:
  void WorkLoop();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_THREAD_POOL_H_
