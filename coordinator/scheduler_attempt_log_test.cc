// The Scheduler's shard log (ListAttempts): one entry per attempt with the
// outcome each path of the attempt life cycle gives it.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler_test_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using AttemptLogSchedulerTest = SchedulerTest;

TEST_F(AttemptLogSchedulerTest, UnknownJobIsNotFound) {
  v1::ListAttemptsRequest req;
  req.set_job_id(99);
  EXPECT_EQ(sched_->ListAttempts(req).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(AttemptLogSchedulerTest, SuccessesAreLoggedWithTheirResults) {
  auto [w1, link1] = AddWorker(2);
  const v1::JobSpec spec = Primes(1000, 3);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 2u);
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_RUNNING);
  EXPECT_EQ(log[0].host(), "test");
  EXPECT_EQ(log[0].worker_id(), w1);
  EXPECT_EQ(log[0].start_unix_ms(), absl::ToUnixMillis(clock_.Now()));
  clock_.Advance(absl::Seconds(1));
  RunAndReport(w1, spec, t);
  RunAndReport(w1, spec, link1->TakeTasks());
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  log = Attempts(job, /*page=*/1);  // three pages of one
  ASSERT_EQ(log.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(log[i].shard(), i);
    EXPECT_EQ(log[i].attempt(), 1u);
    EXPECT_EQ(log[i].outcome(), v1::ATTEMPT_SUCCEEDED);
    EXPECT_EQ(log[i].runtime_us(), 100000u);
    EXPECT_GT(log[i].bytes_out(), 0u);
    EXPECT_FALSE(log[i].speculative());
  }
  EXPECT_EQ(log[0].end_unix_ms() - log[0].start_unix_ms(), 1000);
}

TEST_F(AttemptLogSchedulerTest, FailureThenRetrySucceeds) {
  auto [w1, link1] = AddWorker(1);
  const v1::JobSpec spec = Primes(1000, 1);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t = link1->TakeTasks();
  v1::ResultBatch batch;
  v1::ShardResult* r = batch.add_results();
  *r->mutable_ref() = t[0].ref();
  r->set_error("exit status 3; stderr: no such file");
  r->set_exit_code(3);
  r->set_runtime_us(42);
  ASSERT_TRUE(sched_->OnResults(w1, batch).ok());
  RunAndReport(w1, spec, link1->TakeTasks());
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].attempt(), 1u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_FAILED);
  ASSERT_TRUE(log[0].has_exit_code());
  EXPECT_EQ(log[0].exit_code(), 3);
  EXPECT_EQ(log[0].runtime_us(), 42u);
  EXPECT_EQ(log[0].error(), "exit status 3; stderr: no such file");
  EXPECT_EQ(log[1].attempt(), 2u);
  EXPECT_EQ(log[1].outcome(), v1::ATTEMPT_SUCCEEDED);
  EXPECT_TRUE(log[1].error().empty());
}

TEST_F(AttemptLogSchedulerTest, LostWorkersAttemptsAreLost) {
  auto [w1, link1] = AddWorker(2);
  const v1::JobSpec spec = Primes(1000, 2);
  const uint64_t job = sched_->Submit(spec)->job_id();
  ASSERT_EQ(link1->TakeTasks().size(), 2u);
  sched_->RemoveWorker(w1);
  auto [w2, link2] = AddWorker(2);
  RunAndReport(w2, spec, link2->TakeTasks());
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_LOST);
  EXPECT_EQ(log[1].outcome(), v1::ATTEMPT_LOST);
  EXPECT_GT(log[0].end_unix_ms(), 0);
  EXPECT_EQ(log[0].runtime_us(), 0u);
  EXPECT_EQ(log[2].outcome(), v1::ATTEMPT_SUCCEEDED);
  EXPECT_EQ(log[2].worker_id(), w2);
  EXPECT_EQ(log[2].attempt(), 2u);
}

TEST_F(AttemptLogSchedulerTest, SilentWorkersAttemptsAreLost) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(1))->job_id();
  ASSERT_EQ(link1->TakeTasks().size(), 1u);
  clock_.Advance(Scheduler::Options{}.heartbeat_timeout + absl::Seconds(1));
  sched_->Tick();
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_LOST);
}

TEST_F(AttemptLogSchedulerTest, DrainedAttemptIsHandedBack) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(1))->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 1u);
  sched_->OnDrain(w1);
  v1::ResultBatch batch;
  v1::ShardResult* r = batch.add_results();
  *r->mutable_ref() = t[0].ref();
  r->set_handed_back(true);
  ASSERT_TRUE(sched_->OnResults(w1, batch).ok());
  auto [w2, link2] = AddWorker(1);
  RunAndReport(w2, Sleep(1), link2->TakeTasks());
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_HANDED_BACK);
  EXPECT_EQ(log[1].outcome(), v1::ATTEMPT_SUCCEEDED);
}

TEST_F(AttemptLogSchedulerTest, BackupWinsAndTheStragglerIsDiscarded) {
  auto [w1, link1] = AddWorker(2);
  auto [w2, link2] = AddWorker(2);
  const v1::JobSpec spec = Sleep(4);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  RunAndReport(w1, spec, t1);
  RunAndReport(w2, spec, {t2[0]});
  clock_.Advance(absl::Seconds(2));
  sched_->OnHeartbeat(w1);
  sched_->OnHeartbeat(w2);
  sched_->Tick();
  auto backup = link1->TakeTasks();
  ASSERT_EQ(backup.size(), 1u);
  RunAndReport(w1, spec, backup);  // the backup wins
  const uint64_t straggler = t2[1].ref().shard();
  auto outcome_of = [&](uint32_t attempt) {
    for (const v1::AttemptRecord& r : Attempts(job)) {
      if (r.shard() == straggler && r.attempt() == attempt) return r;
    }
    ADD_FAILURE() << "no attempt " << attempt;
    return v1::AttemptRecord();
  };
  EXPECT_EQ(outcome_of(1).outcome(), v1::ATTEMPT_CANCELLED);
  EXPECT_EQ(outcome_of(2).outcome(), v1::ATTEMPT_SUCCEEDED);
  EXPECT_TRUE(outcome_of(2).speculative());
  EXPECT_FALSE(outcome_of(1).speculative());
  RunAndReport(w2, spec, {t2[1]});  // the straggler's result comes late
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(outcome_of(1).outcome(), v1::ATTEMPT_DISCARDED);
  EXPECT_EQ(outcome_of(1).runtime_us(), 100000u);
  EXPECT_EQ(Attempts(job).size(), 5u);
}

TEST_F(AttemptLogSchedulerTest, CancelledJobsRunningAttemptsAreCancelled) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  ASSERT_EQ(link1->TakeTasks().size(), 1u);
  ASSERT_TRUE(sched_->Cancel(job).ok());
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_CANCELLED);
}

TEST_F(AttemptLogSchedulerTest, ReturningWorkersAttemptIsAdopted) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(1))->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 1u);
  sched_->RemoveWorker(w1);  // it lost the coordinator, still runs it
  v1::Register reg = Reg(1);
  *reg.add_running() = t[0].ref();
  auto link2 = std::make_shared<FakeWorkerLink>();
  absl::StatusOr<uint64_t> w2 = sched_->AddWorker(reg, "peer", link2);
  ASSERT_TRUE(w2.ok());
  RunAndReport(*w2, Sleep(1), t);
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_LOST);
  EXPECT_EQ(log[1].outcome(), v1::ATTEMPT_SUCCEEDED);
  EXPECT_EQ(log[1].attempt(), 1u);  // the same attempt, adopted
  EXPECT_EQ(log[1].worker_id(), *w2);
}

TEST_F(AttemptLogSchedulerTest, BeyondTheCapAttemptsAreCounted) {
  Scheduler::Options options;
  options.max_attempt_log = 2;
  Restart(options);
  auto [w1, link1] = AddWorker(4);
  const uint64_t job = sched_->Submit(Primes(1000, 3))->job_id();
  ASSERT_EQ(link1->TakeTasks().size(), 3u);
  v1::ListAttemptsRequest req;
  req.set_job_id(job);
  absl::StatusOr<v1::ListAttemptsResponse> resp = sched_->ListAttempts(req);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->attempts_size(), 2);
  EXPECT_EQ(resp->dropped(), 1u);
}

using AttemptLogRestartTest = JournaledSchedulerTest;

TEST_F(AttemptLogRestartTest, EndedJobsLogSurvivesARestart) {
  auto [w1, link1] = AddWorker(1);
  const v1::JobSpec spec = Primes(1000, 1);
  const uint64_t job = sched_->Submit(spec)->job_id();
  Fail(w1, link1->TakeTasks()[0], "first try fails");
  RunAndReport(w1, spec, link1->TakeTasks());
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  const std::vector<v1::AttemptRecord> before = Attempts(job);
  ASSERT_EQ(before.size(), 2u);

  Reopen();
  const std::vector<v1::AttemptRecord> after = Attempts(job);
  ASSERT_EQ(after.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString());
  }
  EXPECT_EQ(after[0].outcome(), v1::ATTEMPT_FAILED);
  EXPECT_EQ(after[0].error(), "first try fails");
}

TEST_F(AttemptLogRestartTest, UnfinishedJobLogsAttemptsAfterTheRestart) {
  const uint64_t job = sched_->Submit(Sleep(1))->job_id();
  Reopen();
  auto [w1, link1] = AddWorker(1);
  RunAndReport(w1, Sleep(1), link1->TakeTasks());
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  std::vector<v1::AttemptRecord> log = Attempts(job);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome(), v1::ATTEMPT_SUCCEEDED);
}

}  // namespace
}  // namespace shardex
