// RunSubmit's staging and output steps, and RunFetch, end to end against an
// in-process fake coordinator (Coordinator + Store services): what submit
// uploads, what it submits, where the outputs land, that a refused upload
// submits nothing, and what `shardex fetch` writes.
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "client/client.h"
#include "client/fake_store.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

// Accepts every job as job 1 and reports it succeeded at once.
class FakeCoordinator final : public v1::Coordinator::Service {
 public:
  std::vector<v1::JobSpec> submitted() const {
    absl::MutexLock lock(&mu_);
    return submitted_;
  }
  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* req,
                         v1::SubmitJobResponse* resp) override {
    absl::MutexLock lock(&mu_);
    submitted_.push_back(req->spec());
    resp->set_job_id(1);
    resp->mutable_status()->set_job_id(1);
    resp->mutable_status()->set_state(v1::JOB_QUEUED);
    return grpc::Status::OK;
  }
  // What GetJob answers for job 1; other jobs are unknown.
  void SetJob(v1::JobStatus status) {
    absl::MutexLock lock(&mu_);
    job_ = std::move(status);
  }
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* req,
                      v1::JobStatus* resp) override {
    absl::MutexLock lock(&mu_);
    if (req->job_id() != 1) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no job ", req->job_id()));
    }
    *resp = job_;
    return grpc::Status::OK;
  }
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest*,
                        grpc::ServerWriter<v1::JobStatus>* writer) override {
    v1::JobStatus s;
    s.set_job_id(1);
    s.set_state(v1::JOB_SUCCEEDED);
    s.mutable_result()->set_value("answer\n");
    writer->Write(s);
    return grpc::Status::OK;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::JobSpec> submitted_ ABSL_GUARDED_BY(mu_);
  v1::JobStatus job_ ABSL_GUARDED_BY(mu_);
};

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class SubmitStagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&coordinator_);
    builder.RegisterService(&store_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    std::string tmpl = TempDir() + "/submit_staging_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    client_.coordinator = absl::StrCat("127.0.0.1:", port_);
    client_.retry_for = absl::Seconds(2);
    cmd_.wait.progress = false;
    cmd_.job.mutable_command()->add_argv("./tool/run.sh");
  }
  void TearDown() override {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    RemoveTree(dir_).IgnoreError();
  }

  // RunSubmit(cmd_); `*err` gets its stderr.
  int Run(std::string* err) {
    ::testing::internal::CaptureStderr();
    CoordinatorClient client(client_);
    const int rc = RunSubmit(client, cmd_);
    *err = ::testing::internal::GetCapturedStderr();
    return rc;
  }

  FakeCoordinator coordinator_;
  FakeStore store_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::string dir_;
  ClientOptions client_;
  SubmitCommand cmd_;
};

TEST_F(SubmitStagingTest, UploadsThenSubmitsTheTableThenDownloads) {
  ASSERT_EQ(mkdir((dir_ + "/tool").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tool/run.sh", "#!/bin/sh\n").ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/lines.txt", "a\nb\n").ok());
  store_.SetStored(Sha256Hex("a\nb\n"), 4);
  store_.AddOutput(1, "part-00000", "a\n");
  store_.AddOutput(1, "result", "answer\n");
  store_.AddOutput(1, "_SUCCESS", "");
  cmd_.uploads = {dir_ + "/tool"};
  cmd_.job.mutable_command()->set_lines(dir_ + "/lines.txt");
  cmd_.job.set_output_dir(dir_ + "/out");

  std::string err;
  EXPECT_EQ(Run(&err), kExitOk) << err;
  EXPECT_THAT(err, HasSubstr("shardex: staged 2 files (14 bytes): 1 uploaded, "
                             "1 already stored\n"));
  ASSERT_EQ(coordinator_.submitted().size(), 1u);
  const v1::JobSpec spec = coordinator_.submitted()[0];
  EXPECT_FALSE(spec.shared_fs());
  ASSERT_EQ(spec.staged_size(), 2);
  EXPECT_EQ(spec.staged(0).path(), dir_ + "/lines.txt");
  EXPECT_EQ(spec.staged(1).upload_name(), "tool/run.sh");
  ASSERT_EQ(store_.uploads().size(), 1u);
  EXPECT_EQ(store_.uploads()[0].data, "#!/bin/sh\n");
  EXPECT_EQ(*ReadFile(dir_ + "/out/part-00000"), "a\n");
  EXPECT_EQ(*ReadFile(dir_ + "/out/result"), "answer\n");
  EXPECT_TRUE(Exists(dir_ + "/out/_SUCCESS"));
  EXPECT_EQ(store_.reads().back(), "_SUCCESS");
}

TEST_F(SubmitStagingTest, RefusedUploadSubmitsNothing) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/big", "data").ok());
  cmd_.job.mutable_command()->set_lines(dir_ + "/big");
  store_.FailUploads(grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      "the store is full (raise shardex coordinator --max-store-bytes)"));
  std::string err;
  EXPECT_EQ(Run(&err), kExitUsage);
  EXPECT_THAT(err, HasSubstr("--max-store-bytes"));
  EXPECT_TRUE(coordinator_.submitted().empty());
}

TEST_F(SubmitStagingTest, UnreadableInputIsCaughtBeforeAnyCall) {
  cmd_.job.mutable_command()->set_lines(dir_ + "/missing");
  std::string err;
  EXPECT_EQ(Run(&err), kExitUsage);
  EXPECT_THAT(err, HasSubstr("the submitting host ("));
  EXPECT_TRUE(store_.stat_requests().empty());
  EXPECT_TRUE(coordinator_.submitted().empty());
}

TEST_F(SubmitStagingTest, SharedFsStagesNothing) {
  cmd_.job.set_shared_fs(true);
  cmd_.job.mutable_command()->set_lines(dir_ + "/not-even-here");
  cmd_.job.set_output_dir(dir_ + "/out");
  std::string err;
  EXPECT_EQ(Run(&err), kExitOk) << err;
  EXPECT_TRUE(store_.stat_requests().empty());
  EXPECT_EQ(store_.list_calls(), 0);
  EXPECT_FALSE(Exists(dir_ + "/out"));  // the coordinator's to make
  ASSERT_EQ(coordinator_.submitted().size(), 1u);
  EXPECT_EQ(coordinator_.submitted()[0].staged_size(), 0);
}

TEST_F(SubmitStagingTest, FetchWritesEveryOutputWithSuccessLast) {
  v1::JobStatus job;
  job.set_job_id(1);
  job.set_state(v1::JOB_SUCCEEDED);
  job.mutable_spec()->set_kernel("mandelbrot");
  (*job.mutable_spec()->mutable_args())["out"] = "/elsewhere/m.png";
  job.mutable_spec()->set_output_dir("/elsewhere/out");
  coordinator_.SetJob(job);
  store_.AddOutput(1, "_SUCCESS", "");
  store_.AddOutput(1, "param-out", "PNG");
  store_.AddOutput(1, "part-00000", "p0");
  store_.AddOutput(1, "result", "r");
  ::testing::internal::CaptureStderr();
  const int rc = RunFetch(client_, 1, dir_ + "/again");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, kExitOk) << err;
  EXPECT_EQ(*ReadFile(dir_ + "/again/m.png"), "PNG");  // the path's basename
  EXPECT_EQ(*ReadFile(dir_ + "/again/part-00000"), "p0");
  EXPECT_EQ(*ReadFile(dir_ + "/again/result"), "r");
  EXPECT_TRUE(Exists(dir_ + "/again/_SUCCESS"));
  EXPECT_EQ(store_.reads().back(), "_SUCCESS");
  EXPECT_THAT(err, HasSubstr("shardex: fetched 4 files of job 1"));
}

TEST_F(SubmitStagingTest, FetchOfAJobWithoutOutputsOrUnknownFails) {
  v1::JobStatus job;
  job.set_job_id(1);
  job.set_state(v1::JOB_SUCCEEDED);
  job.mutable_spec()->set_output_dir("/elsewhere/out");
  coordinator_.SetJob(job);
  store_.AddOutput(1, "unrelated", "");  // job known, nothing of its own
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunFetch(client_, 1, dir_ + "/none"), kExitUsage);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("job 1 has no outputs on the coordinator"));
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunFetch(client_, 9, dir_ + "/none"), kExitUsage);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("no job 9"));
}

}  // namespace
}  // namespace shardex
