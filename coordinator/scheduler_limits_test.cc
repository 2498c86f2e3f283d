// The Scheduler's limits: what it holds for clients and workers, and how
// it refuses what is too large or too much (docs/operations.md, "Limits").
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "coordinator/fake_worker_link.h"
#include "coordinator/scheduler.h"
#include "coordinator/scheduler_test_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

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

SHARDEX_REGISTER_KERNEL(gated_for_test, [] {
  return TestKernelInfo<GatedJob>("gated_for_test");
});

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
