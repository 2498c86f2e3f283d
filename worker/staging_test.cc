#include "worker/staging.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "worker/command_runner.h"
#include "worker/fake_blob_fetcher.h"
#include "worker/staging_testing.h"
#include "worker/test_files.h"

namespace shardex {

// For the matchers (found by argument-dependent lookup).
bool operator==(const FileRange& a, const FileRange& b) {
  return a.index == b.index && a.begin == b.begin && a.end == b.end;
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kB = kBlobBlockBytes;

// Words and lines: "w<i> " with a '\n' every 10 words.
std::string Text(uint64_t bytes, int seed) {
  std::string s;
  for (uint64_t i = 0; s.size() < bytes; ++i) {
    absl::StrAppend(&s, "w", (i * 7 + seed) % 1000, i % 10 == 9 ? "\n" : " ");
  }
  s.resize(bytes);
  return s;
}

class StagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = ts_.Open("staging-");
    ASSERT_TRUE(st.ok()) << st;
  }

  static v1::ShardTask Task(uint64_t job, uint64_t shard, uint64_t begin,
                            uint64_t end) {
    v1::ShardTask t;
    t.mutable_ref()->set_job_id(job);
    t.mutable_ref()->set_shard(shard);
    t.mutable_ref()->set_attempt(1);
    t.set_begin(begin);
    t.set_end(end);
    return t;
  }

  const CancelFlag never_{false};
  TestStager ts_;
};

TEST(ShardFileRangesTest, MapsTheStreamOntoFiles) {
  EXPECT_THAT(ShardFileRanges({10, 0, 20, 5}, 5, 32),
              ElementsAre(FileRange{0, 5, 10}, FileRange{2, 0, 20},
                          FileRange{3, 0, 2}));
  EXPECT_THAT(ShardFileRanges({10, 20}, 10, 30),
              ElementsAre(FileRange{1, 0, 20}));
  EXPECT_THAT(ShardFileRanges({10, 20}, 0, 10),
              ElementsAre(FileRange{0, 0, 10}));
  EXPECT_TRUE(ShardFileRanges({10, 20}, 30, 30).empty());
}

TEST_F(StagingTest, LocalizesKernelAndCommandPaths) {
  v1::JobDefinition kernel;
  kernel.set_job_id(1);
  kernel.set_kernel("wordcount");
  (*kernel.mutable_args())["files"] = "/home/u/a.txt\n/home/u/b.txt";
  const BlobRef a = ts_.Stage(&kernel, "/home/u/a.txt", "one two\n");
  const BlobRef b = ts_.Stage(&kernel, "/home/u/b.txt", "three\n");
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(kernel);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->local.args().at("files"),
            absl::StrCat(ts_.cache->DataPath(a.sha256), "\n",
                         ts_.cache->DataPath(b.sha256)));
  EXPECT_FALSE((*job)->local.has_command());
  ASSERT_EQ((*job)->kernel_files.size(), 2u);
  EXPECT_EQ((*job)->kernel_files[1].sha256, b.sha256);
  struct stat st;
  ASSERT_EQ(stat(ts_.cache->DataPath(a.sha256).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), a.size);
  EXPECT_EQ(ts_.fetcher.calls(), 0);  // nothing fetched before a shard runs

  v1::JobDefinition command;
  command.set_job_id(2);
  command.mutable_command()->add_argv("cat");
  command.mutable_command()->add_inputs("/in/1");
  command.mutable_command()->add_inputs("/in/2");
  const BlobRef in1 = ts_.Stage(&command, "/in/1", "x");
  const BlobRef in2 = ts_.Stage(&command, "/in/2", "yy");
  job = ts_.stager->Prepare(command);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_THAT((*job)->local.command().inputs(),
              ElementsAre(ts_.cache->DataPath(in1.sha256),
                          ts_.cache->DataPath(in2.sha256)));

  // --inputs: a shard fetches its own file, whole.
  std::vector<ProcessSpec::Link> links;
  ASSERT_TRUE(
      ts_.stager->BeforeShard(**job, Task(2, 1, 1, 2), never_, &links).ok());
  EXPECT_THAT(ts_.fetcher.FetchedOf(in2.sha256), ElementsAre(0));
  EXPECT_TRUE(ts_.fetcher.FetchedOf(in1.sha256).empty());
  EXPECT_TRUE(links.empty());
}

TEST_F(StagingTest, APathThatWasNotStagedIsRefused) {
  v1::JobDefinition def;
  def.set_job_id(3);
  def.mutable_command()->add_argv("cat");
  def.mutable_command()->set_lines("/data/lines.txt");
  ts_.Stage(&def, "/data/other.txt", "z\n");
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(def);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("'/data/lines.txt'"));
}

TEST_F(StagingTest, AMultiFileShardFetchesItsRangeOfEachFile) {
  v1::JobDefinition def;
  def.set_job_id(4);
  def.set_kernel("wordcount");
  const std::string text_a = Text(3 * kB, 1);
  const std::string text_b = Text(3 * kB, 2);
  (*def.mutable_args())["files"] = "/a\n/b";
  const BlobRef a = ts_.Stage(&def, "/a", text_a);
  const BlobRef b = ts_.Stage(&def, "/b", text_b);
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(def);
  ASSERT_TRUE(job.ok()) << job.status();

  // [2.5 MiB, 4.5 MiB) of the stream: a's [2.5, 3) and b's [0, 1.5).
  const v1::ShardTask task = Task(4, 1, 5 * kB / 2, 9 * kB / 2);
  std::vector<ProcessSpec::Link> links;
  ASSERT_TRUE(ts_.stager->BeforeShard(**job, task, never_, &links).ok());
  EXPECT_THAT(ts_.fetcher.FetchedOf(a.sha256), ElementsAre(2));
  EXPECT_THAT(ts_.fetcher.FetchedOf(b.sha256), ElementsAre(0, 1));

  // The kernel over the cache's files counts what it counts over the
  // originals.
  const std::string orig_a = TempPath("orig-a"), orig_b = TempPath("orig-b");
  ASSERT_TRUE(WriteFileAtomically(orig_a, text_a).ok());
  ASSERT_TRUE(WriteFileAtomically(orig_b, text_b).ok());
  KernelArgs local((*job)->local.args().begin(), (*job)->local.args().end());
  absl::StatusOr<std::unique_ptr<ShardRunner>> cached =
      CreateShardRunner("wordcount", local);
  absl::StatusOr<std::unique_ptr<ShardRunner>> original =
      CreateShardRunner("wordcount", {{"files", orig_a + "\n" + orig_b}});
  ASSERT_TRUE(cached.ok() && original.ok());
  const ShardRange range{task.begin(), task.end()};
  absl::StatusOr<std::string> got = RunWholeShard(**cached, range);
  absl::StatusOr<std::string> want = RunWholeShard(**original, range);
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(*got, *want);
}

TEST_F(StagingTest, LinesShardFetchesItsLineRange) {
  v1::JobDefinition def;
  def.set_job_id(5);
  def.mutable_command()->add_argv("wc");
  def.mutable_command()->set_lines("/l");
  const BlobRef l = ts_.Stage(&def, "/l", Text(4 * kB, 3));
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(def);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->local.command().lines(), ts_.cache->DataPath(l.sha256));
  std::vector<ProcessSpec::Link> links;
  ASSERT_TRUE(
      ts_.stager
          ->BeforeShard(**job, Task(5, 0, 2 * kB, 3 * kB - 10), never_, &links)
          .ok());
  EXPECT_THAT(ts_.fetcher.FetchedOf(l.sha256), ElementsAre(1, 2));
}

TEST_F(StagingTest, UploadsAreMaterialisedOnceAndLinkedIntoTheWorkDir) {
  v1::JobDefinition def;
  def.set_job_id(6);
  def.set_shards(2);
  def.mutable_command()->add_argv("./prog");
  def.mutable_command()->set_max_output_bytes(1000);
  ts_.Stage(&def, "/src/prog",
            "#!/bin/sh\necho \"$(cat data/x.txt) from prog\"\n", "prog", 0755);
  ts_.Stage(&def, "/src/data/x.txt", "hello", "data/x.txt", 0644);
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(def);
  ASSERT_TRUE(job.ok()) << job.status();
  for (uint64_t shard = 0; shard < 2; ++shard) {
    std::vector<ProcessSpec::Link> links;
    ASSERT_TRUE(ts_.stager
                    ->BeforeShard(**job, Task(6, shard, shard, shard + 1),
                                  never_, &links)
                    .ok());
    ASSERT_EQ(links.size(), 2u);
    EXPECT_EQ(links[0].name, "data");
    EXPECT_EQ(links[1].name, "prog");

    CommandShard run{6, &(*job)->local.command(), 2,
                     Task(6, shard, shard, shard + 1)};
    run.links = links;
    const CancelFlag never(false);
    CommandShardOutcome out = RunCommandShard(run, TempPath(""), never);
    ASSERT_TRUE(out.payload.ok()) << out.payload.status();
    EXPECT_EQ(*out.payload, "hello from prog\n");
  }
  const std::string prog = ts_.stager->JobDir(6) + "/upload/prog";
  struct stat st;
  ASSERT_EQ(stat(prog.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0555);  // executable, read-only
  ASSERT_EQ(stat((ts_.stager->JobDir(6) + "/upload/data/x.txt").c_str(), &st),
            0);
  EXPECT_EQ(st.st_mode & 0777, 0444);
  EXPECT_EQ(ts_.fetcher.calls(), 2);  // each upload fetched once

  ts_.stager->Forget(6);
  EXPECT_NE(stat(ts_.stager->JobDir(6).c_str(), &st), 0);
}

TEST_F(StagingTest, ABadUploadNameIsRefused) {
  v1::JobDefinition def;
  def.set_job_id(7);
  def.mutable_command()->add_argv("true");
  ts_.Stage(&def, "/src/x", "x", "../x");
  EXPECT_EQ(ts_.stager->Prepare(def).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StagingTest, AFetchFailureFailsTheShard) {
  v1::JobDefinition def;
  def.set_job_id(8);
  def.mutable_command()->add_argv("cat");
  def.mutable_command()->add_inputs("/in");
  ts_.Stage(&def, "/in", "data");
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(def);
  ASSERT_TRUE(job.ok()) << job.status();
  ts_.fetcher.FailWith(absl::UnavailableError("connection refused"));
  std::vector<ProcessSpec::Link> links;
  absl::Status st =
      ts_.stager->BeforeShard(**job, Task(8, 0, 0, 1), never_, &links);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr("connection refused"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("coordinator"));
}

TEST_F(StagingTest, SharedFsKeepsPathsAndNamesTheHostThatCannotOpenThem) {
  v1::JobDefinition kernel;
  kernel.set_job_id(9);
  kernel.set_shared_fs(true);
  kernel.set_kernel("wordcount");
  (*kernel.mutable_args())["files"] = "/nonexistent/words.txt";
  absl::Status st = ts_.stager->Prepare(kernel).status();
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("worker host testhost cannot open "
                        "'/nonexistent/words.txt': "));

  v1::JobDefinition command;
  command.set_job_id(10);
  command.set_shared_fs(true);
  command.mutable_command()->add_argv("cat");
  command.mutable_command()->add_inputs("/nonexistent/in");
  absl::StatusOr<std::shared_ptr<const StagedJob>> job =
      ts_.stager->Prepare(command);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)->local.command().inputs(0), "/nonexistent/in");
  std::vector<ProcessSpec::Link> links;
  st = ts_.stager->BeforeShard(**job, Task(10, 0, 0, 1), never_, &links);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("worker host testhost cannot open '/nonexistent/in'"));
}

}  // namespace
}  // namespace shardex
