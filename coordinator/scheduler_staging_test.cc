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
#include "gtest/gtest.h"

namespace shardex {
namespace {

class SchedulerStagingTest : public SchedulerTest {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/scheduler_staging_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    auto store = BlobStore::Open(root_ + "/store", {}, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    outputs_ = std::make_unique<JobOutputs>(root_ + "/outputs");
    StagingEnv env;
    env.store = store_.get();
    env.outputs = outputs_.get();
    Scheduler::Options options;
    options.max_job_records = 1;
    Restart(options, nullptr, env);
  }
  void TearDown() override {
    sched_.reset();  // its reducer thread first
    store_.reset();
    (void)RemoveTree(root_);
  }
  std::string Upload(const std::string& content) {
    const std::string sha = Sha256Hex(content);
    auto up = store_->BeginUpload(sha, content.size(), 0);
    EXPECT_TRUE(up.ok() && (*up)->Append(content).ok() && (*up)->Finish().ok());
    return sha;
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
    spec.set_output_dir(root_ + "/client/out");
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

  std::string root_;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<JobOutputs> outputs_;
};

TEST_F(SchedulerStagingTest, OutputsAreKeptForTheClientAndWorkersGetTheTable) {
  const std::string sha = Upload("model");
  auto [w, link] = AddWorker(4);
  absl::StatusOr<v1::JobStatus> submitted = sched_->Submit(PiWithUpload(sha));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const uint64_t id = submitted->job_id();
  // The journaled spec is the client's.
  EXPECT_EQ(submitted->spec().output_dir(), root_ + "/client/out");
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
  const std::string kept = outputs_->DirOf(id);
  EXPECT_TRUE(Exists(kept + "/result"));
  EXPECT_TRUE(Exists(kept + "/_SUCCESS"));
  EXPECT_TRUE(Exists(kept + "/part-00001"));
  EXPECT_FALSE(Exists(root_ + "/client"));  // the user's path: untouched
}

TEST_F(SchedulerStagingTest, KernelOutputFileIsKeptUnderItsParamName) {
  auto [w, link] = AddWorker(4);
  v1::JobSpec spec;
  spec.set_kernel("mandelbrot");
  (*spec.mutable_args())["width"] = "16";
  (*spec.mutable_args())["height"] = "8";
  (*spec.mutable_args())["out"] = root_ + "/client/m.png";
  spec.set_shards(2);
  absl::StatusOr<v1::JobStatus> submitted = sched_->Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const v1::JobStatus end =
      RunToEnd(w, *link, submitted->spec(), submitted->job_id());
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_TRUE(Exists(outputs_->DirOf(end.job_id()) + "/param-out"));
  EXPECT_FALSE(Exists(root_ + "/client"));
  // The result names the file as the client knows it.
  EXPECT_EQ(end.result().value(), root_ + "/client/m.png");
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
  const std::string sha = Upload("model");
  absl::StatusOr<v1::JobStatus> next = sched_->Submit(PiWithUpload(sha));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->job_id(), 1u);
}

TEST_F(SchedulerStagingTest, ForgettingAJobDeletesItsOutputsAndUnpinsItsBlobs) {
  const std::string sha = Upload("model");
  auto [w, link] = AddWorker(4);
  absl::StatusOr<v1::JobStatus> first = sched_->Submit(PiWithUpload(sha));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(RunToEnd(w, *link, first->spec(), first->job_id()).state(),
            v1::JOB_SUCCEEDED);
  const std::string first_dir = outputs_->DirOf(first->job_id());
  ASSERT_TRUE(Exists(first_dir + "/result"));
  // Old enough to collect, but pinned by the remembered job.
  clock_.Advance(BlobStore::kCollectGrace);
  store_->Collect();
  ASSERT_TRUE(store_->IsStored(sha));

  // A second job ends: with max_job_records 1 the first is forgotten.
  const std::string other = Upload("other");
  absl::StatusOr<v1::JobStatus> second = sched_->Submit(PiWithUpload(other));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(RunToEnd(w, *link, second->spec(), second->job_id()).state(),
            v1::JOB_SUCCEEDED);
  // The reducer thread removes it after the end: wait for it.
  for (int i = 0; i < 5000 && (Exists(first_dir) || store_->IsStored(sha));
       ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_FALSE(Exists(first_dir));
  EXPECT_FALSE(store_->IsStored(sha));   // unpinned and collected
  EXPECT_TRUE(store_->IsStored(other));  // pinned by the second job
  EXPECT_TRUE(Exists(outputs_->DirOf(second->job_id()) + "/result"));
}

TEST_F(SchedulerStagingTest, AJobResumedAfterARestartStillFindsItsData) {
  Scheduler::Options options;
  auto open = [&](std::unique_ptr<Journal>& journal) {
    sched_.reset();
    journal.reset();
    store_.reset();
    auto j = OpenSqliteJournal(root_ + "/state");
    ASSERT_TRUE(j.ok()) << j.status();
    journal = *std::move(j);
    auto store = BlobStore::Open(root_ + "/store", {}, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    StagingEnv env;
    env.store = store_.get();
    env.outputs = outputs_.get();
    Restart(options, journal.get(), env);
    ASSERT_TRUE(sched_->Recover().ok());
  };
  std::unique_ptr<Journal> journal;
  open(journal);
  // Left by a job forgotten just before a crash: removed at recovery.
  ASSERT_TRUE(MakeDirs(outputs_->DirOf(77), 0700, "test").ok());
  const std::string sha = Upload("a b c\nd e\nf\n");
  v1::JobSpec spec;
  spec.set_kernel("wordcount");
  (*spec.mutable_args())["files"] = "/client/words.txt";
  spec.set_shards(2);
  spec.set_output_dir("/client/out");
  v1::StagedFile* f = spec.add_staged();
  f->set_path("/client/words.txt");
  f->set_sha256(sha);
  v1::JobSpec on_worker = spec;  // what a worker's cache makes of it
  (*on_worker.mutable_args())["files"] = store_->PathOf(sha);
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
  EXPECT_FALSE(Exists(outputs_->DirOf(77)));
  // Pinned by the recovered job however old.
  clock_.Advance(BlobStore::kCollectGrace);
  store_->Collect();
  EXPECT_TRUE(store_->IsStored(sha));
  auto [w, link] = AddWorker(2);
  const v1::JobStatus end = RunToEnd(w, *link, on_worker, id);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.spec().args().at("files"), "/client/words.txt");
  EXPECT_TRUE(Exists(outputs_->DirOf(id) + "/part-00000"));
  EXPECT_TRUE(Exists(outputs_->DirOf(id) + "/_SUCCESS"));
}

}  // namespace
}  // namespace shardex
