#include "cli/output_download.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/fake_store.h"
#include "client/store_testing.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class OutputDownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = server_.Start();
    ASSERT_TRUE(st.ok()) << st;
  }

  static v1::JobSpec Mandelbrot(const std::string& out) {
    v1::JobSpec spec;
    spec.set_kernel("mandelbrot");
    (*spec.mutable_args())["out"] = out;
    return spec;
  }

  FakeStoreServer server_{"output_download_test"};
  FakeStore& fake_ = server_.fake();
  const std::string& dir_ = server_.dir();  // set by Start
};

TEST_F(OutputDownloadTest, PrepareCreatesTheOutputDirectoryHere) {
  v1::JobSpec spec;
  spec.set_output_dir(dir_ + "/out/deeper");
  ASSERT_TRUE(PrepareLocalOutputs(spec).ok());
  EXPECT_TRUE(Exists(dir_ + "/out/deeper"));
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/out/deeper/x", "1").ok());
  absl::Status st = PrepareLocalOutputs(spec);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("--output"));
}

TEST_F(OutputDownloadTest, KernelOutputFileNeedsItsDirectoryHere) {
  EXPECT_TRUE(PrepareLocalOutputs(Mandelbrot(dir_ + "/m.png")).ok());
  absl::Status st = PrepareLocalOutputs(Mandelbrot(dir_ + "/no/m.png"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("--out " + dir_ + "/no/m.png: directory " + dir_ +
                        "/no does not exist on this host"));
}

TEST_F(OutputDownloadTest, NothingForSharedFsOrJobsWithoutOutputs) {
  v1::JobSpec shared;
  shared.set_output_dir(dir_);
  shared.set_shared_fs(true);
  EXPECT_EQ(OutputDownload::For(server_.client(), 1, shared), nullptr);
  v1::JobSpec primes;
  primes.set_kernel("primes");
  EXPECT_EQ(OutputDownload::For(server_.client(), 1, primes), nullptr);
  shared.set_shared_fs(false);
  EXPECT_NE(OutputDownload::For(server_.client(), 1, shared), nullptr);
}

TEST_F(OutputDownloadTest, PollsAtMostEveryIntervalWhileWatching) {
  fake_.AddOutput(5, "part-00000", "a");
  v1::JobSpec spec;
  spec.set_output_dir(dir_);
  std::unique_ptr<OutputDownload> outputs =
      OutputDownload::For(server_.client(), 5, spec);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  outputs->OnUpdate(t0);
  EXPECT_EQ(fake_.list_calls(), 1);
  EXPECT_TRUE(Exists(dir_ + "/part-00000"));
  outputs->OnUpdate(t0 + absl::Milliseconds(100));
  EXPECT_EQ(fake_.list_calls(), 1);
  outputs->OnUpdate(t0 + OutputDownload::kPollInterval);
  EXPECT_EQ(fake_.list_calls(), 2);
}

TEST_F(OutputDownloadTest, KernelOutputFileLandsAtTheUsersPathOnSuccess) {
  fake_.AddOutput(6, "param-out", "PNG bytes");
  const std::string out = dir_ + "/m.png";
  std::unique_ptr<OutputDownload> outputs =
      OutputDownload::For(server_.client(), 6, Mandelbrot(out));
  ASSERT_NE(outputs, nullptr);
  ASSERT_TRUE(outputs->Finish(v1::JOB_SUCCEEDED).ok());
  EXPECT_EQ(*ReadFile(out), "PNG bytes");
}

TEST_F(OutputDownloadTest, FailedJobGetsItsPartsButNoSuccess) {
  fake_.AddOutput(8, "part-00000", "a");
  fake_.AddOutput(8, "_SUCCESS", "");
  v1::JobSpec spec;
  spec.set_output_dir(dir_);
  std::unique_ptr<OutputDownload> outputs =
      OutputDownload::For(server_.client(), 8, spec);
  ASSERT_TRUE(outputs->Finish(v1::JOB_FAILED).ok());
  EXPECT_TRUE(Exists(dir_ + "/part-00000"));
  EXPECT_FALSE(Exists(dir_ + "/_SUCCESS"));
}

}  // namespace
}  // namespace shardex
