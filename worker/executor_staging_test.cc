// The executor with a JobStager: staged jobs run from the blob cache, a
// fetch failure fails the attempt, and a job's end forgets its files.
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "worker/executor.h"
#include "worker/fake_blob_fetcher.h"
#include "worker/staging_testing.h"
#include "worker/test_files.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

class ExecutorStagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = ts_.Open("exec-staging-");
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(MakeDirs(ts_.root + "/shards", 0755, "test").ok());
    ShardExecutor::Options options;
    options.threads = 1;
    options.processes = 1;
    options.scratch_root = ts_.root + "/shards";
    options.stager = ts_.stager.get();
    exec_ = std::make_unique<ShardExecutor>(options, [this](v1::ShardResult r) {
      absl::MutexLock lock(&mu_);
      results_.push_back(std::move(r));
    });
  }

  v1::ShardResult WaitForResult() {
    absl::MutexLock lock(&mu_);
    auto any = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !results_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&any), absl::Seconds(30));
    if (results_.empty()) return v1::ShardResult();
    v1::ShardResult r = results_.front();
    results_.erase(results_.begin());
    return r;
  }

  static v1::AssignmentBatch Batch(v1::JobDefinition def, uint64_t begin,
                                   uint64_t end) {
    v1::AssignmentBatch b;
    v1::ShardTask* t = b.add_tasks();
    t->mutable_ref()->set_job_id(def.job_id());
    t->mutable_ref()->set_attempt(1);
    t->set_begin(begin);
    t->set_end(end);
    *b.add_jobs() = std::move(def);
    return b;
  }

  TestStager ts_;
  absl::Mutex mu_;
  std::vector<v1::ShardResult> results_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ShardExecutor> exec_;  // last: destroyed first
};

TEST_F(ExecutorStagingTest, AStagedKernelJobRunsFromTheCache) {
  const std::string text = "to be or not to be\nthat is the question\n";
  v1::JobDefinition def;
  def.set_job_id(1);
  def.set_shards(1);
  def.set_kernel("wordcount");
  (*def.mutable_args())["files"] = "/elsewhere/hamlet.txt";
  ts_.Stage(&def, "/elsewhere/hamlet.txt", text);
  exec_->Assign(Batch(def, 0, text.size()));
  const v1::ShardResult r = WaitForResult();
  ASSERT_TRUE(r.ok()) << r.error();

  const std::string original = TempPath("hamlet.txt");
  ASSERT_TRUE(WriteFileAtomically(original, text).ok());
  absl::StatusOr<std::unique_ptr<ShardRunner>> runner =
      CreateShardRunner("wordcount", {{"files", original}});
  ASSERT_TRUE(runner.ok());
  EXPECT_EQ(r.payload(), *RunWholeShard(**runner, {0, text.size()}));
  EXPECT_EQ(ts_.fetcher.calls(), 1);
}

TEST_F(ExecutorStagingTest, ACommandShardRunsAnUploadedProgram) {
  v1::JobDefinition def;
  def.set_job_id(2);
  def.set_shards(1);
  def.mutable_command()->add_argv("./simulate");
  def.mutable_command()->set_max_output_bytes(1000);
  def.mutable_command()->add_argv("{input}");
  def.mutable_command()->add_inputs("/home/me/in.txt");
  ts_.Stage(&def, "/home/me/in.txt", "42\n");
  ts_.Stage(&def, "/home/me/simulate",
            "#!/bin/sh\necho \"got $(cat \"$1\")\"\n", "simulate", 0755);
  exec_->Assign(Batch(def, 0, 1));
  const v1::ShardResult r = WaitForResult();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.payload(), "got 42\n");

  struct stat st;
  ASSERT_EQ(stat(ts_.stager->JobDir(2).c_str(), &st), 0);
  v1::CancelShards ended;
  ended.add_job_ids(2);
  exec_->Cancel(ended);
  EXPECT_NE(stat(ts_.stager->JobDir(2).c_str(), &st), 0);  // forgotten
}

TEST_F(ExecutorStagingTest, AFetchFailureFailsTheAttempt) {
  v1::JobDefinition def;
  def.set_job_id(3);
  def.set_shards(1);
  def.mutable_command()->add_argv("cat");
  def.mutable_command()->set_lines("/data/lines");
  ts_.Stage(&def, "/data/lines", "a\nb\n");
  ts_.fetcher.FailWith(absl::UnavailableError("coordinator unreachable"));
  exec_->Assign(Batch(def, 0, 4));
  const v1::ShardResult r = WaitForResult();
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("coordinator unreachable"));
  EXPECT_THAT(r.error(), HasSubstr("fetching the shard's input"));
}

}  // namespace
}  // namespace shardex
