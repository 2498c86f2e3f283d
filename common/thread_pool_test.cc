#include "common/thread_pool.h"

#include <atomic>
#include <functional>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// Every wait is bounded: a broken pool fails an expectation after
// kPatience instead of hanging until Bazel's timeout. Tasks that block wait
// at most kTaskPatience, so the pool's destructor cannot hang on them
// either; it is longer, so that a blocked task never ends before the test
// has seen what it was waiting for.
constexpr absl::Duration kPatience = absl::Seconds(10);
constexpr absl::Duration kTaskPatience = absl::Seconds(30);

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

TEST(ThreadPoolTest, ScheduleAllQueuesABatchInOrder) {
  std::vector<int> order;  // one thread: FIFO, no lock needed
  {
    ThreadPool pool(1);
    std::vector<std::function<void()>> batch;
    for (int i = 0; i < 100; ++i) batch.push_back([&order, i] { order.push_back(i); });
    pool.ScheduleAll(std::move(batch));
    pool.ScheduleAll({});
    pool.Schedule([&order] { order.push_back(100); });
  }
  ASSERT_EQ(order.size(), 101u);
  for (int i = 0; i <= 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(ThreadPoolTest, RunsTasksOnDistinctThreadsConcurrently) {
  // Declared before the pool, so they outlive its threads.
  absl::Notification started[2], finished[2], release;
  ThreadPool pool(2);
  for (int i = 0; i < 2; ++i) {
    pool.Schedule([&, i] {
      started[i].Notify();
      release.WaitForNotificationWithTimeout(kTaskPatience);
      finished[i].Notify();
    });
  }
  // A pool running one task at a time never starts the second while the
  // first waits for `release`.
  EXPECT_TRUE(started[0].WaitForNotificationWithTimeout(kPatience));
  EXPECT_TRUE(started[1].WaitForNotificationWithTimeout(kPatience))
      << "the second task did not start while the first was running";
  release.Notify();
  EXPECT_TRUE(finished[0].WaitForNotificationWithTimeout(kPatience));
  EXPECT_TRUE(finished[1].WaitForNotificationWithTimeout(kPatience));
}

TEST(ThreadPoolTest, QueueLengthCountsWaitingTasks) {
  absl::Notification started, release;
  ThreadPool pool(1);
  pool.Schedule([&] {
    started.Notify();
    release.WaitForNotificationWithTimeout(kTaskPatience);
  });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kPatience));
  pool.Schedule([] {});
  pool.Schedule([] {});
  EXPECT_EQ(pool.QueueLength(), 2u);
  release.Notify();
}

TEST(ThreadPoolTest, ZeroThreadsMeansOne) {
  absl::Notification ran;
  ThreadPool pool(0);
  EXPECT_EQ(pool.num_threads(), 1);
  pool.Schedule([&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(kPatience));
}

}  // namespace
}  // namespace shardex
