#include "coordinator/scheduler.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "common/job_state.h"
#include "coordinator/fake_worker_link.h"
#include "coordinator/journal.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// A kernel whose payload is the first "hit" in its shard, or empty: a hit
// at X makes shards beginning above X unnecessary (like hashsearch).
class FirstHitJob : public KernelJob {
 public:
  Domain domain() const override { return Domain{Domain::Kind::kRange, 0, 100}; }
  absl::StatusOr<std::string> RunShard(ShardRange, const CancelFlag&) const override {
    return std::string();
  }
  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    KernelResult r;
    for (const std::string& p : payloads) {
      if (!p.empty() && (r.value.empty() || std::stoull(p) < std::stoull(r.value))) {
        r.value = p;
      }
    }
    return r;
  }
  std::optional<uint64_t> Cutoff(const std::string& payload) const override {
    if (payload.empty()) return std::nullopt;
    return std::stoull(payload) + 1;
  }
};

KernelInfo FirstHitInfo() {
  KernelInfo info;
  info.name = "firsthit_for_test";
  info.create = [](const KernelArgs&) -> absl::StatusOr<std::unique_ptr<KernelJob>> {
    return std::make_unique<FirstHitJob>();
  };
  return info;
}
SHARDEX_REGISTER_KERNEL(firsthit_for_test, FirstHitInfo);

v1::JobSpec Primes(uint64_t to, uint64_t shards) {
  v1::JobSpec spec;
  spec.set_kernel("primes");
  (*spec.mutable_args())["to"] = std::to_string(to);
  spec.set_shards(shards);
  return spec;
}

v1::JobSpec Sleep(uint64_t shards) {
  v1::JobSpec spec;
  spec.set_kernel("sleep");
  (*spec.mutable_args())["ms"] = "0";
  spec.set_shards(shards);
  return spec;
}

v1::Register Reg(uint32_t slots) {
  v1::Register r;
  r.set_host("test");
  r.set_slots(slots);
  return r;
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() { Restart(Scheduler::Options{}); }

  // A new scheduler (the old one is destroyed first, as in a restart).
  void Restart(Scheduler::Options options, Journal* journal = nullptr) {
    sched_.reset();
    sched_ = std::make_unique<Scheduler>(options, &clock_, journal);
  }

  // Adds a worker and returns (id, link).
  std::pair<uint64_t, std::shared_ptr<FakeWorkerLink>> AddWorker(
      uint32_t slots) {
    auto link = std::make_shared<FakeWorkerLink>();
    absl::StatusOr<uint64_t> id = sched_->AddWorker(Reg(slots), "peer", link);
    EXPECT_TRUE(id.ok()) << id.status();
    return {*id, link};
  }

  // Runs `tasks` with the real kernel of `spec` and reports their results.
  void RunAndReport(uint64_t worker, const v1::JobSpec& spec,
                    const std::vector<v1::ShardTask>& tasks) {
    KernelArgs args(spec.args().begin(), spec.args().end());
    auto kernel = CreateKernelJob(spec.kernel(), args);
    ASSERT_TRUE(kernel.ok()) << kernel.status();
    v1::ResultBatch batch;
    CancelFlag never(false);
    for (const v1::ShardTask& t : tasks) {
      v1::ShardResult* r = batch.add_results();
      *r->mutable_ref() = t.ref();
      auto payload = (*kernel)->RunShard({t.begin(), t.end()}, never);
      ASSERT_TRUE(payload.ok());
      r->set_ok(true);
      r->set_payload(*payload);
      r->set_runtime_us(100000);  // long shards: no prefetch
    }
    ASSERT_TRUE(sched_->OnResults(worker, batch).ok());
  }

  void Fail(uint64_t worker, const v1::ShardTask& t, const std::string& why) {
    v1::ResultBatch batch;
    v1::ShardResult* r = batch.add_results();
    *r->mutable_ref() = t.ref();
    r->set_ok(false);
    r->set_error(why);
    ASSERT_TRUE(sched_->OnResults(worker, batch).ok());
  }

  v1::JobStatus Job(uint64_t id) {
    auto s = sched_->GetJob(id);
    EXPECT_TRUE(s.ok());
    return *s;
  }

  void Report(uint64_t worker, const v1::ShardTask& t, const std::string& payload) {
    v1::ResultBatch batch;
    v1::ShardResult* r = batch.add_results();
    *r->mutable_ref() = t.ref();
    r->set_ok(true);
    r->set_payload(payload);
    r->set_runtime_us(100000);
    ASSERT_TRUE(sched_->OnResults(worker, batch).ok());
  }

  // Waits for the reducer thread to finish the job.
  v1::JobStatus WaitEnd(uint64_t id) {
    for (int i = 0; i < 5000; ++i) {
      v1::JobStatus s = Job(id);
      if (IsTerminal(s.state())) return s;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return Job(id);
  }

  FakeClock clock_;
  std::unique_ptr<Scheduler> sched_;
};

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
  auto status = sched_->Submit(Primes(1'000'000, 0));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->shards_total(), 20u);  // 5 slots x 4
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

// Every CancelShards ref sent on `link`.
std::vector<v1::ShardRef> CancelledRefs(const FakeWorkerLink& link) {
  std::vector<v1::ShardRef> refs;
  for (const auto& m : link.sent()) {
    for (const auto& ref : m.cancel().shards()) refs.push_back(ref);
  }
  return refs;
}

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

class SchedulerJournalTest : public SchedulerTest {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(getenv("TEST_TMPDIR"), "/state-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Reopen();
  }
  // Drops scheduler and journal, as a crash after the last commit would.
  void Reopen() {
    if (journal_ != nullptr) ASSERT_TRUE(journal_->Sync().ok());
    sched_.reset();
    journal_.reset();
    auto j = OpenSqliteJournal(dir_);
    ASSERT_TRUE(j.ok()) << j.status();
    journal_ = std::move(j).value();
    Restart(Scheduler::Options{}, journal_.get());
    ASSERT_TRUE(sched_->Recover().ok());
  }
  std::string dir_;
  std::unique_ptr<Journal> journal_;
};

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

}  // namespace
}  // namespace shardex

namespace shardex {
namespace {

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

// ------------------------------------------------------------------ limits

namespace shardex {
namespace {

// Independent task shards whose payloads are whatever the test reports;
// Reduce concatenates them. Takes any arguments (to make specs large).
class BlobJob : public KernelJob {
 public:
  Domain domain() const override {
    Domain d;
    d.kind = Domain::Kind::kTasks;
    return d;
  }
  absl::StatusOr<std::string> RunShard(ShardRange,
                                       const CancelFlag&) const override {
    return std::string();
  }
  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    KernelResult r;
    for (const std::string& p : payloads) r.value += p;
    return r;
  }
};

KernelInfo BlobInfo() {
  KernelInfo info;
  info.name = "blob_for_test";
  info.create =
      [](const KernelArgs&) -> absl::StatusOr<std::unique_ptr<KernelJob>> {
    return std::make_unique<BlobJob>();
  };
  return info;
}
SHARDEX_REGISTER_KERNEL(blob_for_test, BlobInfo);

v1::JobSpec Blob(uint64_t shards, size_t arg_bytes = 0) {
  v1::JobSpec spec;
  spec.set_kernel("blob_for_test");
  spec.set_shards(shards);
  if (arg_bytes > 0)
    (*spec.mutable_args())["pad"] = std::string(arg_bytes, 'p');
  return spec;
}

// The status's code is `code` and its message names `field` and `what`.
void ExpectStatus(const absl::Status& st, absl::StatusCode code,
                  const std::string& field, const std::string& what) {
  EXPECT_EQ(st.code(), code) << st;
  EXPECT_NE(st.message().find(field), std::string::npos)
      << "should name " << field << ": " << st;
  EXPECT_NE(st.message().find(what), std::string::npos)
      << "should say " << what << ": " << st;
}

class SchedulerLimitsTest : public SchedulerTest {
 protected:
  // Reports one result per task, each payload `bytes` long.
  void ReportAll(uint64_t worker, const std::vector<v1::ShardTask>& tasks,
                 size_t bytes) {
    for (const v1::ShardTask& t : tasks)
      Report(worker, t, std::string(bytes, 'x'));
  }
};

TEST_F(SchedulerLimitsTest, MalformedSpecsAreInvalidArgumentNamingTheField) {
  v1::JobSpec spec = Primes(100, 2);
  spec.set_kernel(std::string("pri\0mes", 7));
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "kernel:", "NUL");

  spec = Primes(100, 2);
  spec.set_kernel("");
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "kernel:", "empty");

  spec = Primes(100, 2);
  spec.set_kernel(std::string(1000, 'k'));
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "kernel:", "1000-byte");

  spec = Primes(100, 2);
  (*spec.mutable_args())["to"] = std::string("100\0", 4);
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "args[\"to\"]", "NUL");

  spec = Primes(100, 2);
  (*spec.mutable_args())[std::string("t\0o", 3)] = "5";
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "argument name", "NUL");

  spec = Primes(100, 2);
  (*spec.mutable_args())[""] = "5";
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "args:", "empty name");

  spec = Primes(100, 2);
  spec.set_output_dir(std::string("/tmp/o\0ut", 9));
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "output_dir", "NUL");
  spec.set_output_dir(std::string(5000, 'd'));
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "output_dir", "path");

  ExpectStatus(sched_->Submit(Primes(100, 2), std::string(200, 'r')).status(),
               absl::StatusCode::kInvalidArgument, "request_id", "200 bytes");

  // Out-of-range numbers, checked by the kernel.
  spec = Primes(100, 2);
  (*spec.mutable_args())["to"] = "1e30";
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "--to", "exceeds");
  EXPECT_TRUE(sched_->ListJobs().empty());
}

TEST_F(SchedulerLimitsTest, CommandSpecsAreValidatedThroughSubmit) {
  Scheduler::Options options;
  options.allow_commands = true;
  options.max_result_bytes = 1 << 20;
  Restart(options);
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("echo");
  spec.mutable_command()->add_argv(std::string("a\0", 2));
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "command.argv[1]", "NUL");
  spec.mutable_command()->clear_argv();
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "command.argv", "empty");
  spec.mutable_command()->add_argv("echo");
  spec.mutable_command()->set_reduce("avg");
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "command.reduce", "avg");
  spec.mutable_command()->clear_reduce();
  // --max-output beyond what a result may be (max_result_bytes).
  spec.mutable_command()->set_max_output_bytes(2 << 20);
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kResourceExhausted, "command.max_output_bytes",
               "1048576");
  spec.mutable_command()->set_max_output_bytes(0);
  auto ok = sched_->Submit(spec);
  ASSERT_TRUE(ok.ok()) << ok.status();
  // The default output cap shrinks to fit under the result limit.
  EXPECT_EQ(ok->spec().command().max_output_bytes(), 1u << 20);
  // Kernel and command together.
  spec.set_kernel("primes");
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "kernel", "not both");
}

TEST_F(SchedulerLimitsTest, OversizedSpecIsResourceExhausted) {
  Scheduler::Options options;
  options.max_spec_bytes = 1000;
  Restart(options);
  ExpectStatus(sched_->Submit(Blob(1, 2000)).status(),
               absl::StatusCode::kResourceExhausted, "job spec",
               "--max-spec-bytes");
  EXPECT_TRUE(sched_->Submit(Blob(1, 900)).ok());
}

TEST_F(SchedulerLimitsTest, JobsInFlightAreCapped) {
  Scheduler::Options options;
  options.max_jobs_in_flight = 2;
  Restart(options);
  const uint64_t a = sched_->Submit(Sleep(1), "a")->job_id();
  ASSERT_TRUE(sched_->Submit(Sleep(1)).ok());
  ExpectStatus(sched_->Submit(Sleep(1)).status(),
               absl::StatusCode::kResourceExhausted, "jobs in flight",
               "--max-jobs");
  // The async path refuses at once, on the caller's thread.
  absl::Status async;
  sched_->SubmitAsync(Sleep(1), "", [&](absl::StatusOr<v1::JobStatus> s) {
    async = s.status();
  });
  EXPECT_EQ(async.code(), absl::StatusCode::kResourceExhausted);
  // A retry of an admitted submit still finds its job.
  auto again = sched_->Submit(Sleep(1), "a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->job_id(), a);
  // An ended job makes room.
  ASSERT_TRUE(sched_->Cancel(a).ok());
  EXPECT_TRUE(sched_->Submit(Sleep(1)).ok());
  EXPECT_EQ(sched_->ListJobs().size(), 3u);
}

TEST_F(SchedulerLimitsTest, ShardStateCountsAgainstHeldBytes) {
  Scheduler::Options options;
  options.max_held_bytes = 100'000;
  Restart(options);
  ExpectStatus(sched_->Submit(Sleep(10'000)).status(),
               absl::StatusCode::kResourceExhausted, "10000 shards",
               "--max-held-bytes");
  EXPECT_TRUE(sched_->Submit(Sleep(100)).ok());
}

TEST_F(SchedulerLimitsTest, HeldResultsRefuseSubmitsThenOldEndedJobsGo) {
  Scheduler::Options options;
  options.max_held_bytes = 18'000;
  Restart(options);
  auto [w, link] = AddWorker(4);
  const uint64_t job = sched_->Submit(Blob(4), "big")->job_id();
  auto tasks = link->TakeTasks();
  ASSERT_EQ(tasks.size(), 4u);
  tasks.pop_back();
  // 18,000 bytes of payloads held while the job runs, with its spec and
  // shard state: over the limit, though each result was accepted.
  ReportAll(w, tasks, 6000);
  ExpectStatus(sched_->Submit(Sleep(1)).status(),
               absl::StatusCode::kResourceExhausted, "holds",
               "--max-held-bytes");
  // The running job still finishes; its result is kept while it fits.
  auto last = link->TakeTasks();
  ASSERT_TRUE(last.empty());
  Report(w, v1::ShardTask(), "");  // garbage: no ref
  v1::ShardTask fourth;
  fourth.mutable_ref()->set_job_id(job);
  fourth.mutable_ref()->set_shard(3);
  fourth.mutable_ref()->set_attempt(1);
  Report(w, fourth, "");
  v1::JobStatus done = WaitEnd(job);
  ASSERT_EQ(done.state(), v1::JOB_SUCCEEDED) << done.error();
  EXPECT_EQ(done.result().value().size(), 18'000u);
  // Ended results make room when needed: the oldest ended job goes.
  auto next = sched_->Submit(Sleep(1));
  ASSERT_TRUE(next.ok()) << next.status();
  absl::Status gone = sched_->GetJob(job).status();
  ExpectStatus(gone, absl::StatusCode::kNotFound, "no job", "forgotten");
  // With it went its request id.
  auto again = sched_->Submit(Blob(1), "big");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->job_id(), job);
}

TEST_F(SchedulerLimitsTest, OversizedShardResultFailsItsAttempt) {
  Scheduler::Options options;
  options.max_result_bytes = 100;
  options.max_attempts = 2;
  Restart(options);
  auto [w, link] = AddWorker(1);
  const uint64_t job = sched_->Submit(Blob(1))->job_id();
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto t = link->TakeTasks();
    ASSERT_EQ(t.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(t[0].ref().attempt(), static_cast<uint32_t>(attempt));
    Report(w, t[0], std::string(101, 'x'));
  }
  v1::JobStatus s = Job(job);
  EXPECT_EQ(s.state(), v1::JOB_FAILED);
  EXPECT_NE(s.error().find("101 bytes"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("--max-result-bytes"), std::string::npos)
      << s.error();
  EXPECT_EQ(s.shards_succeeded(), 0u);
}

TEST_F(SchedulerLimitsTest, OversizedReducedResultFailsTheJob) {
  Scheduler::Options options;
  options.max_result_bytes = 100;
  Restart(options);
  auto [w, link] = AddWorker(2);
  const uint64_t job = sched_->Submit(Blob(2))->job_id();
  ReportAll(w, link->TakeTasks(), 60);  // each fits; together 120
  v1::JobStatus s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_FAILED);
  EXPECT_NE(s.error().find("the result is 120 bytes"), std::string::npos)
      << s.error();
}

TEST_F(SchedulerLimitsTest, OldestEndedJobsAreForgottenBeyondTheRecordLimit) {
  Scheduler::Options options;
  options.max_job_records = 2;
  Restart(options);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(sched_->Submit(Sleep(1), absl::StrCat("r", i))->job_id());
    ASSERT_TRUE(sched_->Cancel(ids.back()).ok());
  }
  const uint64_t running = sched_->Submit(Sleep(1))->job_id();  // trims
  std::vector<v1::JobStatus> jobs = sched_->ListJobs();
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].job_id(), ids[2]);
  EXPECT_EQ(jobs[1].job_id(), ids[3]);
  EXPECT_EQ(jobs[2].job_id(), running);
  ExpectStatus(sched_->GetJob(ids[0]).status(), absl::StatusCode::kNotFound,
               "no job 1", "--max-job-records");
  EXPECT_EQ(sched_->GetJob(99).status().message(), "no job 99");
  // A job not ended is never forgotten, however many end after it.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sched_->Cancel(sched_->Submit(Sleep(1))->job_id()).ok());
  }
  ASSERT_TRUE(sched_->Submit(Sleep(1)).ok());
  EXPECT_TRUE(sched_->GetJob(running).ok());
}

TEST_F(SchedulerLimitsTest, ListJobsFitsInOneAnswer) {
  Scheduler::Options options;
  options.max_list_bytes = 1000;  // progress statuses (no spec) of ~230 bytes
  options.max_spec_bytes = 1 << 20;
  Restart(options);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sched_->Submit(Blob(1, 1000)).ok());
  std::vector<v1::JobStatus> jobs = sched_->ListJobs();
  ASSERT_GE(jobs.size(), 3u);
  ASSERT_LE(jobs.size(), 5u);
  EXPECT_EQ(jobs.back().job_id(), 10u);  // the newest, in order
  for (size_t i = 1; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].job_id(), jobs[i - 1].job_id() + 1);
  }
  // A large result is left out of the list, not out of GetJob.
  Restart(Scheduler::Options{});
  auto [w, link] = AddWorker(1);
  const uint64_t job = sched_->Submit(Blob(1))->job_id();
  ReportAll(w, link->TakeTasks(), 100'000);
  ASSERT_EQ(WaitEnd(job).result().value().size(), 100'000u);
  jobs = sched_->ListJobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs[0].result().value().empty());
  EXPECT_EQ(jobs[0].result().details().at("result_bytes"), "100000");
}

TEST_F(SchedulerLimitsTest, JobDefinitionsDoNotOverfillABatch) {
  Scheduler::Options options;
  options.max_spec_bytes = 8 << 20;
  Restart(options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sched_->Submit(Blob(4, 5 << 20)).ok());  // 5 MiB specs
  }
  auto [w, link] = AddWorker(6);
  std::vector<v1::CoordinatorMessage> sent = link->sent();
  ASSERT_EQ(sent.size(), 2u);  // Registered, then one batch
  EXPECT_EQ(sent[1].assignments().jobs_size(), 1);
  EXPECT_EQ(sent[1].assignments().tasks_size(), 4);  // job 1's shards
  EXPECT_LT(sent[1].ByteSizeLong(), 9u << 20);
  // As results come back, the other jobs follow, one definition a batch.
  std::set<uint64_t> defined;
  for (int round = 0; round < 10 && defined.size() < 3; ++round) {
    for (const auto& m : link->sent()) {
      for (const auto& d : m.assignments().jobs()) defined.insert(d.job_id());
      EXPECT_LE(m.assignments().jobs_size(), 1);
    }
    ReportAll(w, link->TakeTasks(), 1);
  }
  EXPECT_EQ(defined.size(), 3u);
}

TEST_F(SchedulerLimitsTest, WorkerSessionsAreCappedAndMustRegister) {
  Scheduler::Options options;
  options.max_worker_sessions = 2;
  Restart(options);
  auto l1 = std::make_shared<FakeWorkerLink>();
  auto l2 = std::make_shared<FakeWorkerLink>();
  absl::StatusOr<uint64_t> s1 = sched_->OpenSession(l1);
  absl::StatusOr<uint64_t> s2 = sched_->OpenSession(l2);
  ASSERT_TRUE(s1.ok() && s2.ok());
  ExpectStatus(sched_->OpenSession(std::make_shared<FakeWorkerLink>()).status(),
               absl::StatusCode::kResourceExhausted, "worker sessions",
               "--max-worker-sessions");
  // Session 1 registers; session 2 stays silent and is closed.
  ASSERT_TRUE(sched_->AddWorker(Reg(1), "peer", l1, *s1).ok());
  clock_.Advance(absl::Seconds(2));
  sched_->OnHeartbeat(1);
  clock_.Advance(absl::Seconds(2));
  sched_->OnHeartbeat(1);
  sched_->Tick();
  EXPECT_FALSE(l1->closed());
  EXPECT_TRUE(l2->closed());
  EXPECT_EQ(sched_->AddWorker(Reg(1), "peer", l2, *s2).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // Until its stream is done it still counts; then its place is free.
  EXPECT_FALSE(sched_->OpenSession(std::make_shared<FakeWorkerLink>()).ok());
  sched_->CloseSession(*s2);
  EXPECT_TRUE(sched_->OpenSession(std::make_shared<FakeWorkerLink>()).ok());
}

TEST_F(SchedulerLimitsTest, RegisterNoWorkerWouldSendIsInvalid) {
  auto link = std::make_shared<FakeWorkerLink>();
  struct Case {
    v1::Register reg;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Reg(0), "register.slots"});
  cases.push_back({Reg(5000), "register.slots"});
  v1::Register r = Reg(1);
  r.set_processes(100'000);
  cases.push_back({r, "register.processes"});
  r = Reg(1);
  r.set_host(std::string(300, 'h'));
  cases.push_back({r, "register.host"});
  r = Reg(1);
  r.set_version(std::string(300, 'v'));
  cases.push_back({r, "register.version"});
  r = Reg(1);
  for (int i = 0; i < 100'000; ++i) r.add_running()->set_job_id(i);
  cases.push_back({r, "register.running"});
  for (const Case& c : cases) {
    ExpectStatus(sched_->AddWorker(c.reg, "peer", link).status(),
                 absl::StatusCode::kInvalidArgument, c.field, "");
  }
  EXPECT_TRUE(sched_->ListWorkers().empty());
}

TEST_F(SchedulerLimitsTest, GarbageFromAWorkerIsDiscardedAndNothingBreaks) {
  Scheduler::Options options;
  options.allow_commands = true;
  Restart(options);
  auto [w, link] = AddWorker(2);
  const v1::JobSpec spec = Primes(100000, 4);
  const uint64_t job = sched_->Submit(spec)->job_id();
  auto tasks = link->TakeTasks();
  ASSERT_EQ(tasks.size(), 2u);

  v1::ResultBatch garbage;
  garbage.add_results();               // no ref at all
  for (int i = 0; i < 100'000; ++i) {  // unknown jobs
    v1::ShardResult* r = garbage.add_results();
    r->mutable_ref()->set_job_id(1000 + i);
    r->set_ok(i % 2 == 0);
    r->set_payload("junk");
  }
  v1::ShardResult* r = garbage.add_results();  // shard out of range
  r->mutable_ref()->set_job_id(job);
  r->mutable_ref()->set_shard(UINT64_MAX);
  r->mutable_ref()->set_attempt(1);
  r->set_ok(true);
  r = garbage.add_results();  // a failure for an attempt never made
  r->mutable_ref()->set_job_id(job);
  r->mutable_ref()->set_shard(3);
  r->mutable_ref()->set_attempt(77);
  r->set_error(std::string(1 << 20, 'e'));
  r = garbage.add_results();  // a handed-back attempt it does not hold
  r->mutable_ref()->set_job_id(job);
  r->mutable_ref()->set_shard(2);
  r->set_handed_back(true);
  ASSERT_TRUE(sched_->OnResults(w, garbage).ok());
  EXPECT_FALSE(sched_->OnResults(12345, garbage).ok());  // unknown worker

  // The job is untouched and finishes exactly.
  v1::JobStatus s = Job(job);
  EXPECT_EQ(s.shards_running(), 2u);
  EXPECT_EQ(s.shards_succeeded(), 0u);
  EXPECT_EQ(s.shards_failed(), 0u);
  RunAndReport(w, spec, tasks);
  RunAndReport(w, spec, link->TakeTasks());
  s = WaitEnd(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.result().value(), "9592");
}

TEST_F(SchedulerLimitsTest, AttemptsListedTwiceAtRegisterAreHeldOnce) {
  Scheduler::Options options;
  options.allow_commands = true;
  Restart(options);
  v1::JobSpec cmd;
  cmd.mutable_command()->add_argv("true");
  cmd.set_shards(2);
  const uint64_t job = sched_->Submit(cmd)->job_id();
  v1::Register reg = Reg(1);
  reg.set_processes(1);
  for (int i = 0; i < 3; ++i) {  // the same attempt three times, and attempt 0
    v1::ShardRef* ref = reg.add_running();
    ref->set_job_id(job);
    ref->set_shard(0);
    ref->set_attempt(i < 2 ? 1 : 0);
  }
  auto link = std::make_shared<FakeWorkerLink>();
  auto w = sched_->AddWorker(reg, "peer", link);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Job(job).shards_running(), 1u);
  // The kernel thread slot is still free for a kernel job.
  ASSERT_TRUE(sched_->Submit(Sleep(1)).ok());
  auto tasks = link->TakeTasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_NE(tasks[0].ref().job_id(), job);
}

// Reduces only once the test opens the gate: keeps the reducer thread busy.
absl::Notification* ReduceGate() {
  static absl::Notification* gate = new absl::Notification;
  return gate;
}

class GatedJob : public BlobJob {
 public:
  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    ReduceGate()->WaitForNotification();
    return BlobJob::Reduce(payloads);
  }
};

KernelInfo GatedInfo() {
  KernelInfo info;
  info.name = "gated_for_test";
  info.create =
      [](const KernelArgs&) -> absl::StatusOr<std::unique_ptr<KernelJob>> {
    return std::make_unique<GatedJob>();
  };
  return info;
}
SHARDEX_REGISTER_KERNEL(gated_for_test, GatedInfo);

TEST_F(SchedulerLimitsTest, CancelWhileWaitingForTheReducerIsSafe) {
  auto [w, link] = AddWorker(2);
  v1::JobSpec gated = Blob(1);
  gated.set_kernel("gated_for_test");
  const uint64_t first = sched_->Submit(gated)->job_id();
  const uint64_t second = sched_->Submit(Blob(1))->job_id();
  ReportAll(w, link->TakeTasks(), 10);       // both done: the reducer is stuck
  ASSERT_TRUE(sched_->Cancel(second).ok());  // its Reduce still queued
  ReduceGate()->Notify();
  EXPECT_EQ(WaitEnd(first).state(), v1::JOB_SUCCEEDED);
  absl::SleepFor(absl::Milliseconds(50));  // the second's Reduce has run
  EXPECT_EQ(Job(second).state(), v1::JOB_CANCELLED);
}

}  // namespace
}  // namespace shardex
