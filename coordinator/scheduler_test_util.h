// Test helpers shared by the Scheduler's tests (scheduler_test.cc,
// scheduler_limits_test.cc): a fixture with a FakeClock and FakeWorkerLinks,
// job specs, and test kernels registered in scheduler_test_util.cc
// ("firsthit_for_test", "blob_for_test").
//
// Thread-safety: test code; the fixture is used from the test's thread.
#ifndef SHARDEX_COORDINATOR_SCHEDULER_TEST_UTIL_H_
#define SHARDEX_COORDINATOR_SCHEDULER_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "common/job_state.h"
#include "coordinator/fake_worker_link.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"

namespace shardex {

// Independent task shards whose payloads are whatever the test reports;
// Reduce concatenates them. Takes any arguments (to make specs large).
class BlobJob : public KernelJob {
 public:
  Domain domain() const override {
    Domain d;
    d.kind = Domain::Kind::kTasks;
    return d;
  }
  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    KernelResult r;
    for (const std::string& p : payloads) r.value += p;
    return r;
  }
};

// A kernel named `name` whose jobs are JobT, whatever the arguments.
template <typename JobT>
KernelInfo TestKernelInfo(std::string name) {
  KernelInfo info;
  info.name = std::move(name);
  info.create =
      [](const KernelArgs&) -> absl::StatusOr<std::unique_ptr<KernelJob>> {
    return std::make_unique<JobT>();
  };
  return info;
}

v1::JobSpec Primes(uint64_t to, uint64_t shards);
v1::JobSpec Sleep(uint64_t shards);
// A blob_for_test job; `arg_bytes` of padding make its spec large.
v1::JobSpec Blob(uint64_t shards, size_t arg_bytes = 0);
v1::Register Reg(uint32_t slots);

// The status's code is `code` and its message names `field` and `what`.
void ExpectStatus(const absl::Status& st, absl::StatusCode code,
                  const std::string& field, const std::string& what);

// Every CancelShards ref sent on `link`.
std::vector<v1::ShardRef> CancelledRefs(const FakeWorkerLink& link);
// The job ids of every CancelShards.job_ids sent on `link`.
std::vector<uint64_t> EndedJobNotices(const FakeWorkerLink& link);

// Waits (up to 5 s) for `done` to hold; returns whether it did.
template <typename Predicate>
bool WaitFor(Predicate done) {
  for (int i = 0; i < 5000 && !done(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return done();
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() { Restart(Scheduler::Options{}); }

  // A new scheduler (the old one is destroyed first, as in a restart).
  void Restart(Scheduler::Options options, Journal* journal = nullptr,
               StagingEnv staging = {}) {
    sched_.reset();
    sched_ = std::make_unique<Scheduler>(options, &clock_, journal, staging);
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
    auto runner = CreateShardRunner(spec.kernel(), args);
    ASSERT_TRUE(runner.ok()) << runner.status();
    v1::ResultBatch batch;
    for (const v1::ShardTask& t : tasks) {
      v1::ShardResult* r = batch.add_results();
      *r->mutable_ref() = t.ref();
      auto payload = RunWholeShard(**runner, {t.begin(), t.end()});
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

  void Report(uint64_t worker, const v1::ShardTask& t,
              const std::string& payload) {
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

  // Every attempt of the job's shard log, paging `page` at a time (0: the
  // server's page size).
  std::vector<v1::AttemptRecord> Attempts(uint64_t job, uint32_t page = 0) {
    std::vector<v1::AttemptRecord> all;
    v1::ListAttemptsRequest req;
    req.set_job_id(job);
    req.set_max_count(page);
    while (true) {
      absl::StatusOr<v1::ListAttemptsResponse> resp =
          sched_->ListAttempts(req);
      EXPECT_TRUE(resp.ok()) << resp.status();
      if (!resp.ok()) return all;
      for (const v1::AttemptRecord& r : resp->attempts()) all.push_back(r);
      if (!resp->more()) return all;
      req.set_start(resp->next());
    }
  }

  FakeClock clock_;
  std::unique_ptr<Scheduler> sched_;
};

// A scheduler over a real SQLite journal in a state directory of its own
// (named by the test); Reopen() drops both, as a crash after the last
// commit would, and recovers.
class JournaledSchedulerTest : public SchedulerTest {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        getenv("TEST_TMPDIR"), "/state-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Reopen();
  }
  // The scheduler goes before the journal it writes to: its reducer thread
  // may still be committing a job's end after the job reads as ended, and
  // journal_ would otherwise be destroyed first (members of this class go
  // before the base's sched_), leaving that commit waiting on a journal
  // that no longer exists.
  void TearDown() override { sched_.reset(); }

  void Reopen() {
    if (journal_ != nullptr) {
      ASSERT_TRUE(journal_->Sync().ok());
    }
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

class SchedulerLimitsTest : public SchedulerTest {
 protected:
  // Reports one result per task, each payload `bytes` long.
  void ReportAll(uint64_t worker, const std::vector<v1::ShardTask>& tasks,
                 size_t bytes) {
    for (const v1::ShardTask& t : tasks)
      Report(worker, t, std::string(bytes, 'x'));
  }
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SCHEDULER_TEST_UTIL_H_
