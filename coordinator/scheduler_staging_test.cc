// The Scheduler with a store (docs/staging.md): what workers are sent,
// where outputs go, and what forgetting a job removes.
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "common/blob_id.h"
#include "common/file_util.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler_test_util.h"
#include "coordinator/store_testing.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

class SchedulerStagingTest : public SchedulerTest {
 protected:
  void SetUp() override {
    absl::Status st = ts_.Open();
    ASSERT_TRUE(st.ok()) << st;
    Scheduler::Options options;
    options.max_job_records = 1;
    Restart(options, nullptr, ts_.env());
  }
  void TearDown() override {
    sched_.reset();  // its reducer thread first: it may still commit
    journal_.reset();
    ts_.Close();
  }
  static bool Exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }
  // A pi job with an --upload file and an --output directory.
  v1::JobSpec PiWithUpload(const std::string& sha) {
    v1::JobSpec spec;
    spec.set_kernel("pi");
    (*spec.mutable_args())["samples"] = "1000";
    spec.set_shards(2);
    spec.set_output_dir(ts_.root() + "/client/out");
    v1::StagedFile* f = spec.add_staged();
    f->set_path("/client/model.bin");
    f->set_sha256(sha);
    f->set_size(5);
    f->set_upload_name("model.bin");
    return spec;
  }
  // Runs every task the worker was given, until job `id` ends.
  v1::JobStatus RunToEnd(uint64_t worker, FakeWorkerLink& link,
                         const v1::JobSpec& spec, uint64_t id) {
    for (int round = 0; round < 10; ++round) {
      RunAndReport(worker, spec, link.TakeTasks());
      if (IsTerminal(Job(id).state())) break;
    }
    return WaitEnd(id);
  }

  TestStore ts_{"scheduler_staging_test", &clock_};
  // Outlives the scheduler writing to it (TearDown resets sched_ first).
  std::unique_ptr<Journal> journal_;
};

TEST_F(SchedulerStagingTest, OutputsAreKeptForTheClientAndWorkersGetTheTable) {
  const std::string sha = ts_.Put("model");
  auto [w, link] = AddWorker(4);
  absl::StatusOr<v1::JobStatus> submitted = sched_->Submit(PiWithUpload(sha));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const uint64_t id = submitted->job_id();
  // The journaled spec is the client's.
  EXPECT_EQ(submitted->spec().output_dir(), ts_.root() + "/client/out");
  bool defined = false;
  for (const v1::CoordinatorMessage& m : link->sent()) {
    for (const v1::JobDefinition& def : m.assignments().jobs()) {
      defined = true;
      ASSERT_EQ(def.staged_size(), 1);
      EXPECT_EQ(def.staged(0).path(), "/client/model.bin");
      EXPECT_EQ(def.staged(0).upload_name(), "model.bin");
      EXPECT_FALSE(def.shared_fs());
    }
  }
  EXPECT_TRUE(defined);
  EXPECT_EQ(RunToEnd(w, *link, submitted->spec(), id).state(),
            v1::JOB_SUCCEEDED);
  const std::string kept = ts_.outputs()->DirOf(id);
  EXPECT_TRUE(Exists(kept + "/result"));
  EXPECT_TRUE(Exists(kept + "/_SUCCESS"));
  EXPECT_TRUE(Exists(kept + "/part-00001"));
  EXPECT_FALSE(Exists(ts_.root() + "/client"));  // the user's path: untouched
}

TEST_F(SchedulerStagingTest, KernelOutputFileIsKeptUnderItsParamName) {
  auto [w, link] = AddWorker(4);
  v1::JobSpec spec;
  spec.set_kernel("mandelbrot");
  (*spec.mutable_args())["width"] = "16";
  (*spec.mutable_args())["height"] = "8";
  (*spec.mutable_args())["out"] = ts_.root() + "/client/m.png";
  spec.set_shards(2);
  absl::StatusOr<v1::JobStatus> submitted = sched_->Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const v1::JobStatus end =
      RunToEnd(w, *link, submitted->spec(), submitted->job_id());
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_TRUE(Exists(ts_.outputs()->DirOf(end.job_id()) + "/param-out"));
  EXPECT_FALSE(Exists(ts_.root() + "/client"));
  // The result names the file as the client knows it.
  EXPECT_EQ(end.result().value(), ts_.root() + "/client/m.png");
}

TEST_F(SchedulerStagingTest, UnstagedInputIsRefusedWithoutAJobId) {
  v1::JobSpec spec;
  spec.set_kernel("wordcount");
  (*spec.mutable_args())["files"] = "/client/words.txt";
  absl::Status st = sched_->Submit(spec).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("was not uploaded with the job"),
            std::string::npos);
  // The refused submit used no id.
  const std::string sha = ts_.Put("model");
  absl::StatusOr<v1::JobStatus> next = sched_->Submit(PiWithUpload(sha));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->job_id(), 1u);
}

TEST_F(SchedulerStagingTest, ForgettingAJobDeletesItsOutputsAndUnpinsItsBlobs) {
  const std::string sha = ts_.Put("model");
  auto [w, link] = AddWorker(4);
  absl::StatusOr<v1::JobStatus> first = sched_->Submit(PiWithUpload(sha));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(RunToEnd(w, *link, first->spec(), first->job_id()).state(),
            v1::JOB_SUCCEEDED);
  const std::string first_dir = ts_.outputs()->DirOf(first->job_id());
  ASSERT_TRUE(Exists(first_dir + "/result"));
  // Old enough to collect, but pinned by the remembered job.
  ts_.clock().Advance(BlobStore::kCollectGrace);
  ts_.store()->Collect();
  ASSERT_TRUE(ts_.store()->IsStored(sha));

  // A second job ends: with max_job_records 1 the first is forgotten.
  const std::string other = ts_.Put("other");
  absl::StatusOr<v1::JobStatus> second = sched_->Submit(PiWithUpload(other));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(RunToEnd(w, *link, second->spec(), second->job_id()).state(),
            v1::JOB_SUCCEEDED);
  // The reducer thread removes it after the end: wait for it.
  for (int i = 0; i < 5000 && (Exists(first_dir) || ts_.store()->IsStored(sha));
       ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_FALSE(Exists(first_dir));
  EXPECT_FALSE(ts_.store()->IsStored(sha));   // unpinned and collected
  EXPECT_TRUE(ts_.store()->IsStored(other));  // pinned by the second job
  EXPECT_TRUE(Exists(ts_.outputs()->DirOf(second->job_id()) + "/result"));
}

TEST_F(SchedulerStagingTest, AJobResumedAfterARestartStillFindsItsData) {
  Scheduler::Options options;
  std::unique_ptr<Journal>& journal = journal_;
  auto open = [&](std::unique_ptr<Journal>& journal) {
    sched_.reset();
    journal.reset();
    ts_.Close();
    auto j = OpenSqliteJournal(ts_.root() + "/state");
    ASSERT_TRUE(j.ok()) << j.status();
    journal = *std::move(j);
    absl::Status st = ts_.Reopen();
    ASSERT_TRUE(st.ok()) << st;
    Restart(options, journal.get(), ts_.env());
    ASSERT_TRUE(sched_->Recover().ok());
  };
  open(journal);
  // Left by a job forgotten just before a crash: removed at recovery.
  ASSERT_TRUE(MakeDirs(ts_.outputs()->DirOf(77), 0700, "test").ok());
  const std::string sha = ts_.Put("a b c\nd e\nf\n");
  v1::JobSpec spec;
  spec.set_kernel("wordcount");
  (*spec.mutable_args())["files"] = "/client/words.txt";
  spec.set_shards(2);
  spec.set_output_dir("/client/out");
  v1::StagedFile* f = spec.add_staged();
  f->set_path("/client/words.txt");
  f->set_sha256(sha);
  v1::JobSpec on_worker = spec;  // what a worker's cache makes of it
  (*on_worker.mutable_args())["files"] = ts_.store()->PathOf(sha);
  absl::StatusOr<v1::JobStatus> submitted = sched_->Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const uint64_t id = submitted->job_id();
  {
    auto [w, link] = AddWorker(1);
    std::vector<v1::ShardTask> tasks = link->TakeTasks();
    ASSERT_EQ(tasks.size(), 1u);
    RunAndReport(w, on_worker, tasks);
  }
  ASSERT_TRUE(journal->Sync().ok());
  open(journal);
  EXPECT_FALSE(Exists(ts_.outputs()->DirOf(77)));
  // Pinned by the recovered job however old.
  ts_.clock().Advance(BlobStore::kCollectGrace);
  ts_.store()->Collect();
  EXPECT_TRUE(ts_.store()->IsStored(sha));
  auto [w, link] = AddWorker(2);
  const v1::JobStatus end = RunToEnd(w, *link, on_worker, id);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.spec().args().at("files"), "/client/words.txt");
  EXPECT_TRUE(Exists(ts_.outputs()->DirOf(id) + "/part-00000"));
  EXPECT_TRUE(Exists(ts_.outputs()->DirOf(id) + "/_SUCCESS"));
}

}  // namespace
}  // namespace shardex
