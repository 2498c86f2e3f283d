// A job's end reaches clients only once its journal record is durable:
// until then a crash would run the job again, so GetJob, ListJobs and a
// retried submit must not report it ended (issue 14: "a restart loses
// nothing that was reported").
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/job_state.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler.h"
#include "coordinator/scheduler_test_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// A real SQLite journal whose Sync() waits for the test's go-ahead once a
// job-end record has been appended: the moment between a job ending in
// memory and its end being on disk, held open.
class GatedJournal : public Journal {
 public:
  explicit GatedJournal(std::unique_ptr<Journal> inner)
      : inner_(std::move(inner)) {}

  absl::StatusOr<std::vector<JournaledJob>> Load() override {
    return inner_->Load();
  }
  void Append(std::vector<JournalRecord> records) override {
    for (const JournalRecord& r : records) {
      if (r.kind == JournalRecord::Kind::kJobEnded) end_appended_ = true;
    }
    inner_->Append(std::move(records));
  }
  absl::Status Sync() override {
    if (end_appended_ && !gate_.HasBeenNotified()) {
      if (!held_.HasBeenNotified()) held_.Notify();
      gate_.WaitForNotificationWithTimeout(absl::Seconds(30));
    }
    return inner_->Sync();
  }

  // Set once a Sync is waiting with a job end appended.
  absl::Notification& held() { return held_; }
  void Open() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

 private:
  std::unique_ptr<Journal> inner_;
  std::atomic<bool> end_appended_{false};
  absl::Notification held_;
  absl::Notification gate_;
};

class EndSyncTest : public SchedulerTest {
 protected:
  void SetUp() override {
    auto j = OpenSqliteJournal(absl::StrCat(
        getenv("TEST_TMPDIR"), "/state-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(j.ok()) << j.status();
    journal_ = std::make_unique<GatedJournal>(std::move(j).value());
    Restart(Scheduler::Options{}, journal_.get());
    ASSERT_TRUE(sched_->Recover().ok());
  }
  // The scheduler (and its reducer thread) goes before the journal.
  void TearDown() override {
    journal_->Open();
    sched_.reset();
  }

  std::unique_ptr<GatedJournal> journal_;
};

TEST_F(EndSyncTest, ClientsSeeTheEndOnlyOnceItIsDurable) {
  auto [w1, link1] = AddWorker(1);
  const v1::JobSpec spec = Primes(1000, 1);
  const uint64_t job = sched_->Submit(spec, "request-1")->job_id();
  RunAndReport(w1, spec, link1->TakeTasks());

  // The reducer has ended the job in memory and waits for the disk.
  ASSERT_TRUE(journal_->held().WaitForNotificationWithTimeout(absl::Seconds(10)));
  const v1::JobStatus during = Job(job);
  EXPECT_EQ(during.state(), v1::JOB_RUNNING);
  EXPECT_FALSE(during.has_result());
  EXPECT_EQ(during.end_time_unix_ms(), 0);
  std::vector<v1::JobStatus> listed = sched_->ListJobs();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::JOB_RUNNING);
  // A retried submit (same request id) is answered with the job's status.
  absl::StatusOr<v1::JobStatus> retried = sched_->Submit(spec, "request-1");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->job_id(), job);
  EXPECT_FALSE(IsTerminal(retried->state()));

  journal_->Open();
  const v1::JobStatus after = WaitEnd(job);
  EXPECT_EQ(after.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(after.result().value(), "168");
  EXPECT_GT(after.end_time_unix_ms(), 0);
  EXPECT_EQ(sched_->ListJobs()[0].state(), v1::JOB_SUCCEEDED);
}

TEST_F(EndSyncTest, ACancelReturnsOnceTheEndIsDurable) {
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  // Cancel journals the end and syncs before it answers: it blocks here
  // until the gate opens.
  absl::Notification cancelled;
  absl::StatusOr<v1::JobStatus> answer;
  std::thread canceller([&] {
    answer = sched_->Cancel(job);
    cancelled.Notify();
  });
  ASSERT_TRUE(journal_->held().WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(cancelled.HasBeenNotified());
  EXPECT_EQ(Job(job).state(), v1::JOB_QUEUED);  // not on disk yet
  journal_->Open();
  canceller.join();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->state(), v1::JOB_CANCELLED);
  EXPECT_EQ(Job(job).state(), v1::JOB_CANCELLED);
}

}  // namespace
}  // namespace shardex
