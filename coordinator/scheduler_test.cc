#include "coordinator/scheduler.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "common/job_state.h"
#include "coordinator/fake_worker_link.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler_test_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST_F(SchedulerTest, RejectsUnknownKernelAndBadShardCounts) {
  v1::JobSpec bad;
  bad.set_kernel("nope");
  EXPECT_EQ(sched_->Submit(bad).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(sched_->Submit(Primes(10, 11)).status().code(),
            absl::StatusCode::kInvalidArgument);  // more shards than numbers
  // Over max_shards_per_job: a limit, named with its flag.
  absl::Status over = sched_->Submit(Sleep(20'000'000)).status();
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("--max-shards"), std::string::npos) << over;
  EXPECT_EQ(over.message().rfind("shards", 0), 0u) << over;
  EXPECT_TRUE(sched_->ListJobs().empty());
}

TEST_F(SchedulerTest, AbsentSeedGetsARandomValueRecordedInTheJob) {
  v1::JobSpec spec;
  spec.set_kernel("pi");
  (*spec.mutable_args())["samples"] = "1000";
  auto a = sched_->Submit(spec);
  auto b = sched_->Submit(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->spec().args().count("seed"), 1u);
  ASSERT_EQ(b->spec().args().count("seed"), 1u);
  EXPECT_NE(a->spec().args().at("seed"), b->spec().args().at("seed"));
  (*spec.mutable_args())["seed"] = "42";  // a given seed is kept
  auto c = sched_->Submit(spec);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->spec().args().at("seed"), "42");
}

TEST_F(SchedulerTest, DefaultShardCountComesFromClusterSize) {
  AddWorker(3);
  AddWorker(2);
  // Task shards: one per slot. (A range job is adaptive instead:
  // scheduler_adaptive_test.)
  auto status = sched_->Submit(Sleep(0));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->shards_total(), 5u);
}

TEST_F(SchedulerTest, AssignsBySlotsAndReducesExactly) {
  auto [w1, link1] = AddWorker(2);
  auto [w2, link2] = AddWorker(1);
  const v1::JobSpec spec = Primes(100000, 7);
  auto submitted = sched_->Submit(spec);
  ASSERT_TRUE(submitted.ok());
  const uint64_t job = submitted->job_id();
  // Each worker gets no more than its slots while shards are long.
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  EXPECT_EQ(t1.size(), 2u);
  EXPECT_EQ(t2.size(), 1u);
  EXPECT_EQ(Job(job).state(), v1::JOB_RUNNING);
  while (!t1.empty() || !t2.empty()) {
    RunAndReport(w1, spec, t1);
    RunAndReport(w2, spec, t2);
    t1 = link1->TakeTasks();
    t2 = link2->TakeTasks();
    EXPECT_LE(t1.size(), 2u);
    EXPECT_LE(t2.size(), 1u);
  }
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "9592");  // pi(10^5)
  EXPECT_EQ(s.shards_succeeded(), 7u);
}

TEST_F(SchedulerTest, FirstMessageToANewWorkerCarriesTheJobDefinition) {
  auto [w1, link1] = AddWorker(4);
  ASSERT_TRUE(sched_->Submit(Primes(1000, 8)).ok());
  std::vector<v1::CoordinatorMessage> sent = link1->sent();
  ASSERT_EQ(sent.size(), 2u);  // Registered, then one batch
  EXPECT_TRUE(sent[0].has_registered());
  ASSERT_TRUE(sent[1].has_assignments());
  EXPECT_EQ(sent[1].assignments().jobs_size(), 1);
  EXPECT_EQ(sent[1].assignments().tasks_size(), 4);  // many tasks, one message
}

TEST_F(SchedulerTest, LeavingWorkersShardsFinishElsewhere) {
  auto [w1, link1] = AddWorker(2);
  const v1::JobSpec spec = Primes(100000, 4);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  ASSERT_EQ(t1.size(), 2u);
  sched_->RemoveWorker(w1);  // its two shards go back to the queue
  EXPECT_EQ(Job(job).shards_queued(), 4u);
  auto [w2, link2] = AddWorker(4);  // joins mid-job
  auto t2 = link2->TakeTasks();
  ASSERT_EQ(t2.size(), 4u);
  RunAndReport(w2, spec, t2);
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "9592");
  EXPECT_EQ(s.retries(), 2u);  // the two re-run shards
}

TEST_F(SchedulerTest, LateResultFromALostAttemptIsDiscarded) {
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const v1::JobSpec spec = Primes(1000, 2);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  RunAndReport(w1, spec, t1);  // shard on w1 done
  RunAndReport(w1, spec, t1);  // the same result again: a duplicate
  RunAndReport(w2, spec, t2);
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "168");  // counted once, not twice
}

TEST_F(SchedulerTest, FailedAttemptIsRetriedThenFailsTheJob) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Primes(1000, 1))->job_id();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto t = link1->TakeTasks();
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].ref().attempt(), static_cast<uint32_t>(attempt));
    Fail(w1, t[0], "boom");
  }
  v1::JobStatus s = Job(job);
  EXPECT_EQ(s.state(), v1::JOB_FAILED);
  EXPECT_NE(s.error().find("shard 0 failed 3 attempts (on workers 1 (test), "
                           "1 (test), 1 (test))"),
            std::string::npos)
      << s.error();
  EXPECT_NE(s.error().find("boom"), std::string::npos);
  EXPECT_TRUE(link1->TakeTasks().empty());  // nothing more is assigned
}

TEST_F(SchedulerTest, CancelStopsAttemptsAndFreesSlotsForOtherJobs) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t a = sched_->Submit(Sleep(5))->job_id();
  const uint64_t b = sched_->Submit(Sleep(1))->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].ref().job_id(), a);
  auto cancelled = sched_->Cancel(a);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::JOB_CANCELLED);
  bool cancel_sent = false;
  for (const auto& m : link1->sent()) {
    if (m.has_cancel() && m.cancel().job_ids_size() == 1 &&
        m.cancel().job_ids(0) == a) {
      cancel_sent = true;
    }
  }
  EXPECT_TRUE(cancel_sent);
  auto next = link1->TakeTasks();  // the slot went to job b at once
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].ref().job_id(), b);
  EXPECT_EQ(sched_->Cancel(a).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sched_->Cancel(999).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, ConcurrentJobsShareSlotsFairly) {
  auto [w1, link1] = AddWorker(4);
  const uint64_t a = sched_->Submit(Sleep(10))->job_id();
  auto first = link1->TakeTasks();
  EXPECT_EQ(first.size(), 4u);  // job a alone takes every slot
  const uint64_t b = sched_->Submit(Sleep(10))->job_id();
  // As a's shards finish, slots go to b until both hold two.
  v1::JobSpec spec = Sleep(10);
  RunAndReport(w1, spec, {first[0], first[1]});
  auto next = link1->TakeTasks();
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].ref().job_id(), b);
  EXPECT_EQ(next[1].ref().job_id(), b);
  EXPECT_EQ(Job(a).shards_running(), 2u);
  EXPECT_EQ(Job(b).shards_running(), 2u);
}

TEST_F(SchedulerTest, ShortShardsAreFedAheadOfTheSlots) {
  auto [w1, link1] = AddWorker(2);
  const uint64_t job = sched_->Submit(Sleep(10000))->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 2u);  // nothing known yet: slots only
  v1::ResultBatch batch;
  for (const auto& task : t) {
    v1::ShardResult* r = batch.add_results();
    *r->mutable_ref() = task.ref();
    r->set_ok(true);
    r->set_payload("1");
    r->set_runtime_us(10);  // trivially short
  }
  ASSERT_TRUE(sched_->OnResults(w1, batch).ok());
  EXPECT_GT(link1->TakeTasks().size(), 100u);
  EXPECT_EQ(Job(job).state(), v1::JOB_RUNNING);
}

TEST_F(SchedulerTest, HeartbeatsFitThreeTimesInAShortTimeout) {
  Scheduler::Options options;
  options.heartbeat_timeout = absl::Milliseconds(900);
  Restart(options);
  auto [w1, link1] = AddWorker(1);
  ASSERT_FALSE(link1->sent().empty());
  EXPECT_EQ(link1->sent()[0].registered().heartbeat_interval_ms(), 300u);
}

TEST_F(SchedulerTest, SilentWorkerIsDroppedAfterHeartbeatTimeout) {
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  link1->TakeTasks();
  link2->TakeTasks();
  clock_.Advance(absl::Seconds(2));
  sched_->OnHeartbeat(w2);  // w2 stays in touch, w1 does not
  clock_.Advance(absl::Seconds(2));
  sched_->Tick();
  EXPECT_TRUE(link1->closed());
  EXPECT_FALSE(link2->closed());
  EXPECT_EQ(sched_->ListWorkers().size(), 1u);
  EXPECT_EQ(Job(job).shards_queued(), 1u);  // w1's shard is back in the queue
}

TEST_F(SchedulerTest, CutoffSkipsShardsAboveAnEarlyAnswer) {
  auto [w1, link1] = AddWorker(4);
  v1::JobSpec spec;
  spec.set_kernel("firsthit_for_test");
  spec.set_shards(10);  // shard i covers [10i, 10i + 10)
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 4u);  // shards 0-3 run, 4-9 wait
  Report(w1, t[1], "15");   // shard 1 finds 15: shards from 20 up are moot
  std::set<uint64_t> cancelled;
  for (const auto& m : link1->sent()) {
    for (const auto& ref : m.cancel().shards()) cancelled.insert(ref.shard());
  }
  EXPECT_EQ(cancelled, (std::set<uint64_t>{2, 3}));  // the running ones
  EXPECT_TRUE(link1->TakeTasks().empty());  // nothing above the cutoff runs
  v1::JobStatus mid = Job(job);
  EXPECT_EQ(mid.shards_skipped(), 8u);
  EXPECT_EQ(mid.state(), v1::JOB_RUNNING);  // shard 0 may still hold less
  Report(w1, t[0], "");
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "15");
}

TEST_F(SchedulerTest, CommandJobsNeedAllowCommands) {
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("echo");
  spec.set_shards(2);
  EXPECT_EQ(sched_->Submit(spec).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(sched_->ListJobs().empty());
}

// ---------------------------------------------------------------- faults

TEST_F(SchedulerTest, RetryGoesToAnotherWorkerWhereOneExists) {
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  ASSERT_EQ(t1.size(), 1u);
  ASSERT_EQ(t2.size(), 1u);
  Fail(w1, t1[0], "crash");  // w1 is free again, but the retry waits for w2
  EXPECT_TRUE(link1->TakeTasks().empty());
  RunAndReport(w2, Sleep(2), t2);
  auto retry = link2->TakeTasks();
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].ref().shard(), t1[0].ref().shard());
  EXPECT_EQ(retry[0].ref().attempt(), 2u);
  RunAndReport(w2, Sleep(2), retry);
  EXPECT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
}

TEST_F(SchedulerTest, RetryStaysOnTheOnlyWorker) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(1))->job_id();
  auto t = link1->TakeTasks();
  Fail(w1, t[0], "flaky");
  auto retry = link1->TakeTasks();
  ASSERT_EQ(retry.size(), 1u);
  RunAndReport(w1, Sleep(1), retry);
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.retries(), 1u);
}

TEST_F(SchedulerTest, LostWorkersResultStillWantedIsAccepted) {
  auto [w1, link1] = AddWorker(1);
  const v1::JobSpec spec = Primes(1000, 1);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t = link1->TakeTasks();
  sched_->RemoveWorker(w1);  // shard 0 queued again, nobody to run it
  // The worker comes back as a new worker, still holding its attempt.
  auto link2 = std::make_shared<FakeWorkerLink>();
  v1::Register reg = Reg(1);
  *reg.add_running() = t[0].ref();
  const uint64_t w2 = *sched_->AddWorker(reg, "peer", link2);
  EXPECT_TRUE(link2->TakeTasks().empty());  // adopted, not sent again
  EXPECT_EQ(Job(job).shards_running(), 1u);
  RunAndReport(w2, spec, t);  // the old attempt's result
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "168");
  EXPECT_EQ(s.discarded_results(), 0u);
}

TEST_F(SchedulerTest, ReturningWorkersAttemptOfADoneShardIsCancelled) {
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const v1::JobSpec spec = Sleep(3);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  sched_->RemoveWorker(w1);  // partitioned
  RunAndReport(w2, spec, t2);
  auto rerun = link2->TakeTasks();  // w1's shard, then the third
  ASSERT_EQ(rerun.size(), 1u);
  EXPECT_EQ(rerun[0].ref().shard(), t1[0].ref().shard());
  RunAndReport(w2, spec, rerun);
  auto link3 = std::make_shared<FakeWorkerLink>();
  v1::Register reg = Reg(1);
  *reg.add_running() = t1[0].ref();
  ASSERT_TRUE(sched_->AddWorker(reg, "peer", link3).ok());
  std::vector<v1::ShardRef> cancelled = CancelledRefs(*link3);
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].shard(), t1[0].ref().shard());
  EXPECT_EQ(Job(job).discarded_results(), 1u);
}

TEST_F(SchedulerTest, LateDifferingResultIsCountedAsAMismatch) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  auto t = link1->TakeTasks();
  sched_->RemoveWorker(w1);
  auto [w2, link2] = AddWorker(1);
  auto rerun = link2->TakeTasks();
  ASSERT_EQ(rerun.size(), 1u);
  Report(w2, rerun[0], "1");
  Report(w2, rerun[0], "1");  // the same again: discarded, no mismatch
  v1::JobStatus s = Job(job);
  EXPECT_EQ(s.discarded_results(), 1u);
  EXPECT_EQ(s.result_mismatches(), 0u);
  Report(w2, rerun[0], "2");  // differs from the accepted "1"
  s = Job(job);
  EXPECT_EQ(s.discarded_results(), 2u);
  EXPECT_EQ(s.result_mismatches(), 1u);
  EXPECT_NE(s.mismatch().find("shard 0"), std::string::npos) << s.mismatch();
}

TEST_F(SchedulerTest, DrainingWorkerGetsNothingAndHandsBackWithoutFailure) {
  auto [w1, link1] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 1u);
  sched_->OnDrain(w1);
  EXPECT_TRUE(sched_->ListWorkers()[0].draining());
  v1::ResultBatch batch;
  v1::ShardResult* r = batch.add_results();
  *r->mutable_ref() = t[0].ref();
  r->set_handed_back(true);
  ASSERT_TRUE(sched_->OnResults(w1, batch).ok());
  EXPECT_TRUE(link1->TakeTasks().empty());  // draining: nothing new
  EXPECT_EQ(Job(job).shards_queued(), 2u);
  auto [w2, link2] = AddWorker(2);
  auto t2 = link2->TakeTasks();
  ASSERT_EQ(t2.size(), 2u);
  RunAndReport(w2, Sleep(2), t2);
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.shards_failed(), 0u);
}

TEST_F(SchedulerTest, WorkerFailingManyShardsIsQuarantinedForTheJob) {
  Scheduler::Options options;
  options.quarantine_after = 2;
  options.max_attempts = 5;
  Restart(options);
  auto [bad, bad_link] = AddWorker(2);
  auto [good, good_link] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(6))->job_id();
  auto tb = bad_link->TakeTasks();
  ASSERT_EQ(tb.size(), 2u);
  v1::ResultBatch failures;  // two different shards fail: quarantined
  for (const v1::ShardTask& t : tb) {
    v1::ShardResult* r = failures.add_results();
    *r->mutable_ref() = t.ref();
    r->set_error("bad disk");
  }
  ASSERT_TRUE(sched_->OnResults(bad, failures).ok());
  std::vector<v1::WorkerInfo> workers = sched_->ListWorkers();
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0].quarantined_jobs_size(), 1);
  EXPECT_EQ(Job(job).quarantined_workers_size(), 1);
  EXPECT_TRUE(bad_link->TakeTasks().empty());  // free, but quarantined
  // Everything runs on the good worker.
  for (int i = 0; i < 6; ++i) {
    auto t = good_link->TakeTasks();
    ASSERT_EQ(t.size(), 1u) << i;
    RunAndReport(good, Sleep(6), t);
  }
  EXPECT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
}

TEST_F(SchedulerTest, QuarantineNeverStallsAJob) {
  Scheduler::Options options;
  options.quarantine_after = 1;
  Restart(options);
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(3))->job_id();
  auto t1 = link1->TakeTasks();
  Fail(w1, t1[0], "oops");  // w1 quarantined
  sched_->RemoveWorker(w2);  // ... and now the only worker
  auto t = link1->TakeTasks();
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(Job(job).state(), v1::JOB_RUNNING);
}

TEST_F(SchedulerTest, StragglerGetsABackupAndTheFirstResultWins) {
  auto [w1, link1] = AddWorker(2);
  auto [w2, link2] = AddWorker(2);
  const v1::JobSpec spec = Sleep(4);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  ASSERT_EQ(t1.size(), 2u);
  ASSERT_EQ(t2.size(), 2u);
  RunAndReport(w1, spec, t1);      // 3 of 4 done in 100 ms each
  RunAndReport(w2, spec, {t2[0]});
  sched_->Tick();
  EXPECT_TRUE(link1->TakeTasks().empty());  // not slow enough yet
  clock_.Advance(absl::Seconds(2));
  sched_->OnHeartbeat(w1);
  sched_->OnHeartbeat(w2);
  sched_->Tick();
  auto backup = link1->TakeTasks();
  ASSERT_EQ(backup.size(), 1u);
  EXPECT_EQ(backup[0].ref().shard(), t2[1].ref().shard());
  EXPECT_EQ(backup[0].ref().attempt(), 2u);
  EXPECT_EQ(Job(job).speculative_attempts(), 1u);
  RunAndReport(w1, spec, backup);  // the backup finishes first
  std::vector<v1::ShardRef> cancelled = CancelledRefs(*link2);
  ASSERT_EQ(cancelled.size(), 1u);  // the straggler is stopped
  EXPECT_EQ(cancelled[0].attempt(), 1u);
  RunAndReport(w2, spec, {t2[1]});  // and its late result is dropped
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.discarded_results(), 1u);
  EXPECT_EQ(s.retries(), 0u);
}

TEST_F(SchedulerTest, NoBackupsWithSpeculationOff) {
  Scheduler::Options options;
  options.speculation.enabled = false;
  Restart(options);
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const uint64_t job = sched_->Submit(Sleep(2))->job_id();
  auto t1 = link1->TakeTasks();
  RunAndReport(w1, Sleep(2), t1);
  clock_.Advance(absl::Seconds(2));
  sched_->OnHeartbeat(w1);
  sched_->OnHeartbeat(w2);
  sched_->Tick();
  EXPECT_TRUE(link1->TakeTasks().empty());
  EXPECT_EQ(Job(job).speculative_attempts(), 0u);
}

TEST_F(SchedulerTest, SameRequestIdMakesOneJob) {
  auto a = sched_->Submit(Sleep(2), "req-1");
  auto b = sched_->Submit(Sleep(2), "req-1");
  auto c = sched_->Submit(Sleep(2), "req-2");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->job_id(), b->job_id());
  EXPECT_NE(a->job_id(), c->job_id());
  EXPECT_EQ(sched_->ListJobs().size(), 2u);
  // A rejected submit does not hold on to its request id.
  v1::JobSpec bad = Sleep(2);
  bad.set_kernel("no_such_kernel");
  EXPECT_FALSE(sched_->Submit(bad, "req-3").ok());
  EXPECT_TRUE(sched_->Submit(Sleep(2), "req-3").ok());
  EXPECT_EQ(sched_->ListJobs().size(), 3u);
}

// ------------------------------------------------------------ job ends

TEST_F(SchedulerTest, EveryWorkerSentTheDefinitionHearsASucceededJobEnd) {
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const v1::JobSpec spec = Sleep(2);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  auto t2 = link2->TakeTasks();
  ASSERT_EQ(t1.size(), 1u);
  ASSERT_EQ(t2.size(), 1u);
  auto [w3, link3] = AddWorker(1);  // after the queue emptied: no definition
  EXPECT_TRUE(link3->TakeTasks().empty());
  RunAndReport(w1, spec, t1);
  RunAndReport(w2, spec, t2);
  ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  // The notices go out after the end is journaled, on the reducer thread.
  EXPECT_TRUE(WaitFor([l = link2] { return !EndedJobNotices(*l).empty(); }));
  EXPECT_EQ(EndedJobNotices(*link1), std::vector<uint64_t>{job});
  EXPECT_EQ(EndedJobNotices(*link2), std::vector<uint64_t>{job});
  EXPECT_TRUE(link3->sent().size() == 1 && link3->sent()[0].has_registered())
      << "a worker never sent the job hears nothing of it";
}

TEST_F(SchedulerTest, IdleWorkersWithTheDefinitionHearAFailedOrCancelledEnd) {
  Scheduler::Options options;
  options.max_attempts = 1;  // a failure fails the job
  Restart(options);
  auto [w1, link1] = AddWorker(1);
  auto [w2, link2] = AddWorker(1);
  const v1::JobSpec spec = Sleep(3);
  const uint64_t cancelled = sched_->Submit(spec)->job_id();
  auto t1 = link1->TakeTasks();
  link2->TakeTasks();
  RunAndReport(w1, spec, t1);  // w1 then runs the third shard
  RunAndReport(w1, spec, link1->TakeTasks());  // and is idle
  ASSERT_TRUE(sched_->Cancel(cancelled).ok());
  EXPECT_EQ(EndedJobNotices(*link1), std::vector<uint64_t>{cancelled});
  EXPECT_EQ(EndedJobNotices(*link2), std::vector<uint64_t>{cancelled});

  const uint64_t failed = sched_->Submit(Sleep(2))->job_id();
  auto f1 = link1->TakeTasks();
  auto f2 = link2->TakeTasks();
  ASSERT_EQ(f1.size(), 1u);
  ASSERT_EQ(f2.size(), 1u);
  RunAndReport(w2, Sleep(2), f2);  // w2 is idle when the job fails
  Fail(w1, f1[0], "boom");
  ASSERT_EQ(Job(failed).state(), v1::JOB_FAILED);
  EXPECT_EQ(EndedJobNotices(*link1),
            (std::vector<uint64_t>{cancelled, failed}));
  EXPECT_EQ(EndedJobNotices(*link2),
            (std::vector<uint64_t>{cancelled, failed}));
}

TEST_F(SchedulerTest, ProgressStatusesCarryTheSummaryNotTheSpec) {
  v1::JobSpec spec = Primes(100, 2);
  (*spec.mutable_args())["from"] = "0";
  const uint64_t job = sched_->Submit(spec)->job_id();
  v1::JobStatus full = Job(job);
  EXPECT_TRUE(full.has_spec());
  EXPECT_EQ(full.summary(), "primes --from 0 --to 100");
  absl::StatusOr<v1::JobStatus> progress =
      sched_->GetJob(job, JobView::kProgress);
  ASSERT_TRUE(progress.ok());
  EXPECT_FALSE(progress->has_spec());
  EXPECT_EQ(progress->summary(), "primes --from 0 --to 100");
  EXPECT_EQ(progress->shards_total(), 2u);
  std::vector<v1::JobStatus> listed = sched_->ListJobs();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_FALSE(listed[0].has_spec());
  EXPECT_EQ(listed[0].summary(), "primes --from 0 --to 100");
  // An ended job too.
  ASSERT_TRUE(sched_->Cancel(job).ok());
  progress = sched_->GetJob(job, JobView::kProgress);
  EXPECT_FALSE(progress->has_spec());
  EXPECT_EQ(progress->summary(), "primes --from 0 --to 100");
  EXPECT_TRUE(Job(job).has_spec());
}

// A journal that checks, on each call, that the scheduler's lock is free:
// another thread must get through a scheduler call meanwhile.
class LockProbeJournal : public Journal {
 public:
  ~LockProbeJournal() override { Stop(); }

  void set_scheduler(Scheduler* scheduler) {
    absl::MutexLock lock(&mu_);
    scheduler_ = scheduler;
  }
  // No more probes; waits for those started. Call before the scheduler
  // goes away.
  void Stop() {
    std::vector<std::thread> probes;
    {
      absl::MutexLock lock(&mu_);
      scheduler_ = nullptr;
      probes.swap(probes_);
    }
    for (std::thread& t : probes) t.join();
  }
  int calls_under_lock() const { return calls_under_lock_.load(); }
  int calls() const { return calls_.load(); }

  absl::StatusOr<std::vector<JournaledJob>> Load() override {
    Probe();
    return std::vector<JournaledJob>();
  }
  void Append(std::vector<JournalRecord> records) override { Probe(); }
  absl::Status Sync() override {
    Probe();
    return absl::OkStatus();
  }

 private:
  void Probe() {
    ++calls_;
    auto done = std::make_shared<absl::Notification>();
    {
      absl::MutexLock lock(&mu_);
      if (scheduler_ == nullptr) return;
      probes_.emplace_back([s = scheduler_, done] {
        s->ListWorkers();  // takes the scheduler's lock
        done->Notify();
      });
    }
    if (!done->WaitForNotificationWithTimeout(absl::Seconds(2))) {
      ++calls_under_lock_;
    }
  }

  absl::Mutex mu_;
  Scheduler* scheduler_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<std::thread> probes_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> calls_{0};
  std::atomic<int> calls_under_lock_{0};
};

TEST_F(SchedulerTest, TheJournalIsNeverCalledUnderTheLock) {
  LockProbeJournal journal;
  Scheduler::Options options;
  options.max_job_records = 1;  // ended jobs are forgotten, and journaled
  Restart(options, &journal);
  journal.set_scheduler(sched_.get());
  ASSERT_TRUE(sched_->Recover().ok());
  auto [w, link] = AddWorker(2);
  for (int i = 0; i < 3; ++i) {
    const v1::JobSpec spec = Sleep(2);
    const uint64_t job = sched_->Submit(spec)->job_id();
    if (i == 1) {
      ASSERT_TRUE(sched_->Cancel(job).ok());
      continue;
    }
    RunAndReport(w, spec, link->TakeTasks());
    ASSERT_EQ(WaitEnd(job).state(), v1::JOB_SUCCEEDED);
  }
  ASSERT_TRUE(sched_->SyncJournal().ok());
  journal.Stop();
  sched_.reset();  // joins the reducer: every call has been made
  EXPECT_GT(journal.calls(), 10);
  EXPECT_EQ(journal.calls_under_lock(), 0);
}

using SchedulerJournalTest = JournaledSchedulerTest;

TEST_F(SchedulerJournalTest, RestartResumesWithoutRerunningAcceptedShards) {
  const v1::JobSpec spec = Primes(100000, 4);
  auto [w1, link1] = AddWorker(2);
  const uint64_t done_job = sched_->Submit(Primes(1000, 1), "first")->job_id();
  RunAndReport(w1, Primes(1000, 1), link1->TakeTasks());
  ASSERT_EQ(WaitEnd(done_job).state(), v1::JOB_SUCCEEDED);
  const uint64_t job = sched_->Submit(spec, "second")->job_id();
  auto t = link1->TakeTasks();
  ASSERT_EQ(t.size(), 2u);
  RunAndReport(w1, spec, t);  // shards 0 and 1 accepted

  Reopen();
  v1::JobStatus before = Job(job);
  EXPECT_EQ(before.shards_succeeded(), 2u);
  EXPECT_EQ(before.shards_queued(), 2u);
  EXPECT_EQ(Job(done_job).result().value(), "168");  // ended jobs stay
  // A retried submit of either job finds it.
  EXPECT_EQ(sched_->Submit(spec, "second")->job_id(), job);
  auto [w2, link2] = AddWorker(4);
  auto rest = link2->TakeTasks();
  ASSERT_EQ(rest.size(), 2u);  // only the two not yet accepted
  for (const auto& task : rest) EXPECT_GE(task.ref().shard(), 2u);
  RunAndReport(w2, spec, rest);
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "9592");
  // New jobs get new ids.
  EXPECT_GT(sched_->Submit(Sleep(1))->job_id(), job);

  Reopen();  // and the result survives another restart
  EXPECT_EQ(Job(job).result().value(), "9592");
  EXPECT_EQ(Job(job).state(), v1::JOB_SUCCEEDED);
  // Recovered ended jobs: the spec in the full view only, the summary in
  // both.
  EXPECT_EQ(Job(job).spec().args().at("to"), "100000");
  EXPECT_EQ(Job(job).summary(), "primes --to 100000");
  absl::StatusOr<v1::JobStatus> progress =
      sched_->GetJob(job, JobView::kProgress);
  ASSERT_TRUE(progress.ok());
  EXPECT_FALSE(progress->has_spec());
  EXPECT_EQ(progress->summary(), "primes --to 100000");
  EXPECT_EQ(progress->result().value(), "9592");
  for (const v1::JobStatus& listed : sched_->ListJobs()) {
    EXPECT_FALSE(listed.has_spec()) << listed.job_id();
    EXPECT_FALSE(listed.summary().empty()) << listed.job_id();
  }
}

TEST_F(SchedulerJournalTest, CancelledJobStaysCancelledAfterRestart) {
  const uint64_t job = sched_->Submit(Sleep(3))->job_id();
  ASSERT_TRUE(sched_->Cancel(job).ok());
  Reopen();
  EXPECT_EQ(Job(job).state(), v1::JOB_CANCELLED);
  auto [w1, link1] = AddWorker(2);
  EXPECT_TRUE(link1->TakeTasks().empty());
}

TEST(SchedulerCommandTest, CommandJobsFillProcessSlots) {
  FakeClock clock;
  Scheduler::Options options;
  options.allow_commands = true;
  Scheduler scheduler(options, &clock);
  auto link = std::make_shared<FakeWorkerLink>();
  v1::Register reg = Reg(1);
  reg.set_processes(3);
  ASSERT_TRUE(scheduler.AddWorker(reg, "peer", link).ok());
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("echo");
  spec.mutable_command()->add_argv("{shard}");
  spec.set_shards(5);
  auto status = scheduler.Submit(spec);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->spec().command().max_output_bytes(), 4u << 20);  // default
  std::vector<v1::CoordinatorMessage> sent = link->sent();
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_EQ(sent[1].assignments().tasks_size(), 3);  // 3 process slots
  ASSERT_EQ(sent[1].assignments().jobs_size(), 1);
  EXPECT_EQ(sent[1].assignments().jobs(0).command().argv(1), "{shard}");
  EXPECT_EQ(sent[1].assignments().jobs(0).shards(), 5u);
  // A kernel job still gets the one thread slot beside the processes.
  ASSERT_TRUE(scheduler.Submit(Sleep(1)).ok());
  EXPECT_EQ(link->TakeTasks().size(), 4u);
}

TEST(SchedulerCommandTest, NonRetriableExitCodeFailsTheJobAtOnce) {
  FakeClock clock;
  Scheduler::Options options;
  options.allow_commands = true;
  Scheduler scheduler(options, &clock);
  auto link = std::make_shared<FakeWorkerLink>();
  v1::Register reg = Reg(1);
  reg.set_processes(1);
  const uint64_t w = *scheduler.AddWorker(reg, "peer", link);
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("false");
  spec.mutable_command()->add_no_retry_exit_codes(42);
  spec.set_shards(2);
  const uint64_t job = scheduler.Submit(spec)->job_id();
  auto t = link->TakeTasks();
  ASSERT_EQ(t.size(), 1u);
  v1::ResultBatch batch;
  v1::ShardResult* r = batch.add_results();
  *r->mutable_ref() = t[0].ref();
  r->set_exit_code(42);
  r->set_error("false: exited with code 42");
  ASSERT_TRUE(scheduler.OnResults(w, batch).ok());
  v1::JobStatus s = *scheduler.GetJob(job);
  EXPECT_EQ(s.state(), v1::JOB_FAILED);
  EXPECT_NE(s.error().find("exited with code 42"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("attempt 1"), std::string::npos) << s.error();
  EXPECT_EQ(s.retries(), 0u);
}

}  // namespace
}  // namespace shardex
