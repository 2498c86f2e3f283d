// Correctly synchronized uses of every absl primitive that
// absl_tsan_annotations.cc covers. Under --config=tsan each must run
// without a report: if one appears, the annotations (or the Abseil version
// they were written for) are off. In other configs this is a plain test.
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

TEST(AbslTsanAnnotationsTest, MutexLockAndReaderLock) {
  absl::Mutex mu;
  int counter = 0;
  std::vector<int> items;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 500; ++k) {
        absl::MutexLock lock(&mu);
        ++counter;
        items.push_back(k);
      }
    });
  }
  threads.emplace_back([&] {
    for (int k = 0; k < 100; ++k) {
      absl::ReaderMutexLock lock(&mu);
      EXPECT_EQ(static_cast<size_t>(counter), items.size());
    }
  });
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(counter, 2000);
}

// Spins on TryLock, sets *value, unlocks. clang's static analysis cannot
// follow a lock taken by a loop's last iteration; this test is about
// TSan's dynamic view of it.
void SpinLockAndSet(absl::Mutex* mu, int* value)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  while (!mu->TryLock()) {
  }
  *value = 1;
  mu->Unlock();
}

TEST(AbslTsanAnnotationsTest, TryLock) {
  absl::Mutex mu;
  int value = 0;
  std::thread t([&] { SpinLockAndSet(&mu, &value); });
  t.join();
  if (mu.TryLock()) {
    EXPECT_EQ(value, 1);
    mu.Unlock();
  } else {
    ADD_FAILURE() << "TryLock failed on a mutex nobody holds";
  }
}

TEST(AbslTsanAnnotationsTest, ConditionsLockWhenAndAwait) {
  absl::Mutex mu;
  int stage = 0;
  int data = 0;
  std::thread t([&] {
    mu.LockWhen(absl::Condition(+[](int* s) { return *s == 1; }, &stage));
    data = 9;
    stage = 2;
    mu.Unlock();
  });
  {
    absl::MutexLock lock(&mu);
    stage = 1;
    mu.Await(absl::Condition(+[](int* s) { return *s == 2; }, &stage));
    EXPECT_EQ(data, 9);
    EXPECT_FALSE(mu.AwaitWithTimeout(
        absl::Condition(+[](int* s) { return *s == 3; }, &stage),
        absl::Milliseconds(1)));
  }
  t.join();
}

TEST(AbslTsanAnnotationsTest, CondVar) {
  absl::Mutex mu;
  absl::CondVar cv;
  bool ready = false;
  int data = 0;
  std::thread t([&] {
    absl::MutexLock lock(&mu);
    data = 5;
    ready = true;
    cv.Signal();
  });
  {
    absl::MutexLock lock(&mu);
    while (!ready) cv.WaitWithTimeout(&mu, absl::Seconds(10));
    EXPECT_EQ(data, 5);
  }
  t.join();
}

TEST(AbslTsanAnnotationsTest, NotificationWaitAndPoll) {
  int first = 0;
  absl::Notification done_first;
  std::thread t1([&] {
    first = 42;
    done_first.Notify();
  });
  done_first.WaitForNotification();
  EXPECT_EQ(first, 42);
  t1.join();

  int second = 0;
  absl::Notification done_second;
  std::thread t2([&] {
    second = 7;
    done_second.Notify();
  });
  while (!done_second.HasBeenNotified()) {
  }
  EXPECT_EQ(second, 7);
  t2.join();
}

TEST(AbslTsanAnnotationsTest, BlockingCounter) {
  int slots[3] = {0, 0, 0};
  absl::BlockingCounter counter(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      slots[i] = i + 1;
      counter.DecrementCount();
    });
  }
  counter.Wait();
  EXPECT_EQ(slots[0] + slots[1] + slots[2], 6);
  for (std::thread& t : threads) t.join();
}

TEST(AbslTsanAnnotationsTest, MutexesComeAndGo) {
  for (int i = 0; i < 100; ++i) {
    auto* mu = new absl::Mutex;
    mu->Lock();
    mu->Unlock();
    delete mu;
    absl::Mutex on_stack;
    absl::MutexLock lock(&on_stack);
  }
}

}  // namespace
