#include "coordinator/staged_paths.h"

#include <stdlib.h>

#include <memory>
#include <string>

#include "common/blob_id.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "coordinator/store_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

class StagedPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = ts_.Open();
    ASSERT_TRUE(st.ok()) << st;
  }
  // Stores `content` and stages it as `path` in `spec`; returns its sha.
  std::string Stage(v1::JobSpec& spec, const std::string& path,
                    const std::string& content) {
    const std::string sha = ts_.Put(content);
    v1::StagedFile* f = spec.add_staged();
    f->set_path(path);
    f->set_sha256(sha);
    f->set_size(content.size());
    return sha;
  }

  TestStore ts_{"staged_paths_test"};
};

v1::JobSpec WordCount(const std::string& files) {
  v1::JobSpec spec;
  spec.set_kernel("wordcount");
  (*spec.mutable_args())["files"] = files;
  return spec;
}

TEST_F(StagedPathsTest, UnstagedInputPathIsRefusedWithTheFix) {
  absl::StatusOr<LocalizedSpec> local =
      Localize(WordCount("/home/u/a.txt"), 1, ts_.env());
  EXPECT_EQ(local.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(local.status().message(),
            "'/home/u/a.txt' was not uploaded with the job: submit with the "
            "shardex CLI, which uploads it, or pass --shared-fs if every "
            "host sees it");
  v1::JobSpec cmd;
  cmd.mutable_command()->add_argv("cat");
  cmd.mutable_command()->set_lines("/home/u/lines.txt");
  EXPECT_THAT(Localize(cmd, 1, ts_.env()).status().message(),
              HasSubstr("'/home/u/lines.txt' was not uploaded"));
}

TEST_F(StagedPathsTest, StagedInputPathsReadTheStoresCopy) {
  v1::JobSpec spec = WordCount("/home/u/a.txt\n/home/u/b.txt");
  const std::string a = Stage(spec, "/home/u/a.txt", "alpha");
  const std::string b = Stage(spec, "/home/u/b.txt", "beta");
  absl::StatusOr<LocalizedSpec> local = Localize(spec, 4, ts_.env());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->spec.args().at("files"),
            ts_.store()->PathOf(a) + "\n" + ts_.store()->PathOf(b));
  EXPECT_EQ(spec.args().at("files"), "/home/u/a.txt\n/home/u/b.txt");
  // The kernel shows the user's names (grep's "FILE:" prefixes).
  EXPECT_EQ(local->spec.args().at(std::string("files") + kAsSubmitted),
            "/home/u/a.txt\n/home/u/b.txt");
  EXPECT_FALSE(local->shared_fs);
  EXPECT_TRUE(local->keeps_outputs);
  EXPECT_EQ(local->blobs.size(), 2u);

  v1::JobSpec cmd;
  cmd.mutable_command()->add_argv("cat");
  cmd.mutable_command()->add_inputs("/in/1");
  cmd.mutable_command()->add_inputs("/in/2");
  const std::string one = Stage(cmd, "/in/1", "one");
  const std::string two = Stage(cmd, "/in/2", "two");
  local = Localize(cmd, 5, ts_.env());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->spec.command().inputs(0), ts_.store()->PathOf(one));
  EXPECT_EQ(local->spec.command().inputs(1), ts_.store()->PathOf(two));
}

TEST_F(StagedPathsTest, OutputsGoToTheJobsOutputDirectory) {
  v1::JobSpec spec;
  spec.set_kernel("mandelbrot");
  (*spec.mutable_args())["out"] = "/home/u/m.png";
  spec.set_output_dir("/home/u/out");
  absl::StatusOr<LocalizedSpec> local = Localize(spec, 9, ts_.env());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->spec.output_dir(), ts_.root() + "/outputs/9");
  EXPECT_EQ(local->spec.args().at("out"), ts_.root() + "/outputs/9/param-out");
  // With shared_fs, the user's paths.
  spec.set_shared_fs(true);
  local = Localize(spec, 9, ts_.env());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->spec.output_dir(), "/home/u/out");
  EXPECT_EQ(local->spec.args().at("out"), "/home/u/m.png");
  EXPECT_FALSE(local->keeps_outputs);
  EXPECT_TRUE(local->shared_fs);
}

TEST_F(StagedPathsTest, SharedFsUsesPathsAsTheyAreAndNamesThisHost) {
  const std::string file = ts_.root() + "/seen.txt";
  ASSERT_TRUE(WriteFileAtomically(file, "x").ok());
  v1::JobSpec spec = WordCount(file);
  spec.set_shared_fs(true);
  absl::StatusOr<LocalizedSpec> local = Localize(spec, 1, ts_.env());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->spec.args().at("files"), file);
  // The coordinator's --shared-fs accepts it too.
  ts_.env().shared_fs = true;
  EXPECT_TRUE(Localize(WordCount(file), 1, ts_.env()).ok());
  absl::Status st =
      Localize(WordCount(ts_.root() + "/missing"), 1, ts_.env()).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(),
              HasSubstr("the coordinator's host (" + ThisHostName() +
                        ") cannot open '" + ts_.root() + "/missing'"));
}

TEST_F(StagedPathsTest, BlobNotStoredIsAFailedPrecondition) {
  v1::JobSpec spec = WordCount("/a");
  v1::StagedFile* f = spec.add_staged();
  f->set_path("/a");
  f->set_sha256(Sha256Hex("never uploaded"));
  absl::Status st = Localize(spec, 1, ts_.env()).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("'/a'"));
  EXPECT_THAT(st.message(), HasSubstr(Sha256Hex("never uploaded")));
}

TEST_F(StagedPathsTest, StagedTableIsChecked) {
  auto with = [](const std::string& sha, const std::string& name) {
    v1::JobSpec spec;
    v1::StagedFile* f = spec.add_staged();
    f->set_path("/p");
    f->set_sha256(sha);
    f->set_upload_name(name);
    return spec;
  };
  const std::string sha = Sha256Hex("x");
  EXPECT_TRUE(CheckStagedTable(with(sha, "model/w.bin")).ok());
  for (const std::string& bad :
       {"/abs", "../up", "a/../b", "a//b", "a/", "./a"}) {
    EXPECT_EQ(CheckStagedTable(with(sha, bad)).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(CheckStagedTable(with("../../etc", "")).code(),
            absl::StatusCode::kInvalidArgument);
  v1::JobSpec twice = with(sha, "a");
  *twice.add_staged() = twice.staged(0);
  EXPECT_THAT(CheckStagedTable(twice).message(), HasSubstr("given twice"));
  v1::JobSpec differs = with(sha, "");
  *differs.add_staged() = differs.staged(0);
  differs.mutable_staged(1)->set_sha256(Sha256Hex("y"));
  EXPECT_THAT(CheckStagedTable(differs).message(),
              HasSubstr("different contents"));
}

TEST_F(StagedPathsTest, NoStoreMeansPathsAsTheyAre) {
  absl::StatusOr<LocalizedSpec> local =
      Localize(WordCount("/home/u/a.txt"), 1, StagingEnv{});
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->spec.args().at("files"), "/home/u/a.txt");
  EXPECT_TRUE(local->shared_fs);
}

}  // namespace
}  // namespace shardex
