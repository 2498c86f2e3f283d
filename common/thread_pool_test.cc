#include "common/thread_pool.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(ThreadPoolTest, RunsEveryTask) {
  std::atomic<int> sum{0};
  {
    ThreadPool pool(3);
    for (int i = 1; i <= 1000; ++i) {
      pool.Schedule([&sum, i] { sum += i; });
    }
  }  // destructor drains the queue
  EXPECT_EQ(sum.load(), 500500);
}

TEST(ThreadPoolTest, RunsTasksOnDistinctThreadsConcurrently) {
  ThreadPool pool(2);
  absl::BlockingCounter both_started(2);
  absl::Notification release;
  std::atomic<int> done{0};
  for (int i = 0; i < 2; ++i) {
    pool.Schedule([&] {
      both_started.DecrementCount();
      release.WaitForNotification();
      ++done;
    });
  }
  both_started.Wait();  // would hang if the pool ran one task at a time
  release.Notify();
  while (done.load() < 2) std::this_thread::yield();
}

TEST(ThreadPoolTest, QueueLengthCountsWaitingTasks) {
  ThreadPool pool(1);
  absl::Notification started, release;
  pool.Schedule([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  pool.Schedule([] {});
  pool.Schedule([] {});
  EXPECT_EQ(pool.QueueLength(), 2u);
  release.Notify();
}

TEST(ThreadPoolTest, ZeroThreadsMeansOne) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.num_threads(), 1);
  absl::Notification ran;
  pool.Schedule([&] { ran.Notify(); });
  ran.WaitForNotification();
}

}  // namespace
}  // namespace shardex
