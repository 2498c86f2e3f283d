// Staging (issue 11, docs/staging.md), once and under faults: the same input
// uploaded once and fetched once, and the exact answer still given when the
// submitting CLI is killed with SIGKILL mid-upload (its host's egress slowed
// with a `tc tbf` qdisc inside its namespace, so the upload is surely in
// progress; the next upload resumes where the coordinator's copy ends), when
// a worker host's worker is killed mid-fetch (the coordinator's egress slowed
// the same way), and when the coordinator is killed and restarted mid-job
// (nothing uploaded again). The store's own account (Store.StatBlobs:
// stored, received_bytes, served_bytes, uploads) is checked throughout. The
// hosts, the fixture and the helpers: tests/staging_fixture.h.
#include <cstdint>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/netns_hosts.h"
#include "tests/staging_fixture.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace staging {
namespace {

// ------------------------------------------------------------ once

TEST_F(StagingTest, TheSameInputIsUploadedOnceAndFetchedOnce) {
  // One worker (host b's), so "fetched once" is exact: its cache holds
  // every block after the first job.
  workers_[kC]->Kill();
  WaitForWorkerList("only host b's worker", [](const auto& list) {
    return list.size() == 1 && Find(list, kB) != nullptr;
  });
  const std::string name = "same.txt";
  WriteLocalText(kD, name, 4 * kMiB, 22);
  const uint64_t size = FileSize(Backing(kD, name));
  const std::string sha = Sha256Of(Backing(kD, name));
  const std::string expected = ExpectedWordcount(kD, Local(name));

  CliRun first = Cli(kD, "submit", {"--shards=6", "wordcount", Local(name)});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(first.out == expected) << first.out.size() << " vs "
                                     << expected.size() << " bytes";
  StagedLine s1 = ParseStagedLine(first.err);
  EXPECT_TRUE(s1.found && s1.uploaded == 1 && s1.stored == 0) << first.err;
  auto after_first = StatBlob(sha);
  ASSERT_TRUE(after_first.ok()) << after_first.status();
  EXPECT_TRUE(after_first->stored());
  EXPECT_EQ(after_first->size(), size);
  EXPECT_EQ(after_first->uploads(), 1u);
  EXPECT_GE(after_first->served_bytes(), size);

  // A second job on the same file: nothing uploaded, nothing fetched.
  CliRun second =
      Cli(kD, "submit", {"--shards=4", "grep", "--count", "needle7", Local(name)});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Trim(second.out),
            Trim(HostShell(kD, "LC_ALL=C grep -c needle7 " + Local(name))));
  StagedLine s2 = ParseStagedLine(second.err);
  EXPECT_TRUE(s2.found && s2.uploaded == 0 && s2.stored == 1) << second.err;
  auto after_second = StatBlob(sha);
  ASSERT_TRUE(after_second.ok()) << after_second.status();
  EXPECT_EQ(after_second->uploads(), 1u);
  EXPECT_EQ(after_second->served_bytes(), after_first->served_bytes())
      << "the second job fetched the file again instead of using the cache";

  // The same bytes under another name on another host: still stored once.
  ASSERT_EQ(system(("cp '" + Backing(kD, name) + "' '" +
                    Backing(kA, "copy.txt") + "'")
                       .c_str()),
            0);
  CliRun third = Cli(kA, "submit", {"--shards=3", "wordcount", Local("copy.txt")});
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_TRUE(third.out == expected);
  StagedLine s3 = ParseStagedLine(third.err);
  EXPECT_TRUE(s3.found && s3.uploaded == 0 && s3.stored == 1) << third.err;
  auto after_third = StatBlob(sha);
  ASSERT_TRUE(after_third.ok()) << after_third.status();
  EXPECT_EQ(after_third->uploads(), 1u);
  EXPECT_EQ(after_third->served_bytes(), after_first->served_bytes());
}

// ------------------------------------------------------------ faults

TEST_F(StagingTest, InterruptedUploadResumesWhereTheCoordinatorsCopyEnds) {
  const std::string name = "big.txt";
  const uint64_t lines = WriteLocalText(kD, name, 64 * kMiB, 33);
  const uint64_t size = FileSize(Backing(kD, name));
  const std::string sha = Sha256Of(Backing(kD, name));
  ASSERT_EQ(sha.size(), 64u);
  const std::vector<std::string> job = {"--lines", Local(name), "--shards",
                                        "6", "--reduce", "sum", "--", "wc",
                                        "-l"};

  // Host d sends at 64 Mbit/s: the upload takes ~8 s.
  ASSERT_NO_FATAL_FAILURE(Shape(kD, "64mbit"));
  auto submit = StartCli(kD, "submit", job);
  ASSERT_NE(submit, nullptr);
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  v1::BlobStat seen;
  while (true) {
    ASSERT_TRUE(submit->running())
        << "submit ended before its upload could be interrupted:\n"
        << submit->Log();
    ASSERT_LT(absl::Now(), deadline) << "no partial upload seen in 90 s";
    auto st = StatBlob(sha);
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_FALSE(st->stored())
        << "the upload finished before it could be interrupted";
    if (st->received_bytes() > 0) {
      seen = *st;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  submit->Kill();
  std::cerr << "killed submit at received_bytes " << seen.received_bytes()
            << " of " << size << "\n";
  ASSERT_TRUE(Unshape(kD).ok());

  // The partial copy outlives the client.
  auto partial = StatBlob(sha);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_FALSE(partial->stored());
  EXPECT_GT(partial->received_bytes(), 0u);
  EXPECT_LT(partial->received_bytes(), size);
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(0, "the killed submit made no job"));

  CliRun again = Cli(kD, "submit", job);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Trim(again.out), absl::StrCat(lines));
  static const std::regex re(
      "shardex: resuming upload of '([^']*)' at ([0-9]+) of ([0-9]+) bytes");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(again.err, m, re))
      << "no 'resuming upload' line: " << again.err;
  uint64_t at = 0, of = 0;
  ASSERT_TRUE(absl::SimpleAtoi(m[2].str(), &at));
  ASSERT_TRUE(absl::SimpleAtoi(m[3].str(), &of));
  EXPECT_EQ(m[1].str(), Local(name));
  EXPECT_EQ(of, size);
  EXPECT_GT(at, 0u) << "the partial copy was thrown away";
  EXPECT_LT(at, size);

  auto done = StatBlob(sha);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->stored());
  EXPECT_EQ(done->size(), size);
  EXPECT_EQ(done->uploads(), 1u);
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(1, "one job: the resumed submit's"));
}

TEST_F(StagingTest, WorkerKilledMidFetchStillGivesTheExactAnswer) {
  const std::string name = "fetch.txt";
  WriteLocalText(kD, name, 32 * kMiB, 44);
  const uint64_t size = FileSize(Backing(kD, name));
  const std::string sha = Sha256Of(Backing(kD, name));
  const std::string expected = ExpectedWordcount(kD, Local(name));
  const std::string words = Trim(HostShell(kD, "wc -w < " + Local(name)));

  // The coordinator sends at 32 Mbit/s: fetching the file takes ~8 s.
  ASSERT_NO_FATAL_FAILURE(Shape(kA, "32mbit"));
  const uint64_t job =
      SubmitDetached(kD, {"--shards=8", "wordcount", Local(name)});
  ASSERT_NE(job, 0u);
  // Mid-fetch: host b's worker runs a shard and the blob is not all served.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    ASSERT_LT(absl::Now(), deadline) << "host b never ran a shard mid-fetch";
    auto st = StatBlob(sha);
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_LT(st->served_bytes(), size)
        << "the whole file was fetched before host b's worker could be killed";
    auto list = Workers();
    if (st->served_bytes() > 0 && list.ok()) {
      const v1::WorkerInfo* b = Find(*list, kB);
      if (b != nullptr && b->running() > 0) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  workers_[kB]->Kill();
  ASSERT_TRUE(Unshape(kA).ok());

  CliRun watch = Cli(kD, "watch", {"--json", absl::StrCat(job)});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  auto status = FromJson<v1::JobStatus>(watch.out);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::JOB_SUCCEEDED) << watch.out;
  EXPECT_TRUE(status->result().value() + "\n" == expected)
      << status->result().value().size() + 1 << " vs " << expected.size()
      << " bytes";
  EXPECT_EQ(status->result().details().at("words"), words);
  ASSERT_TRUE(workers_[kC]->running()) << "host c's worker died too";
}

TEST_F(StagingTest, CoordinatorRestartMidJobResumesWithoutReupload) {
  const std::string name = "restart.txt";
  const uint64_t lines = WriteLocalText(kD, name, 4 * kMiB, 55);
  const std::string sha = Sha256Of(Backing(kD, name));
  const std::vector<std::string> job = {
      "--lines", Local(name), "--shards", "8", "--reduce", "sum", "--",
      "sh", "-c", "sleep 2; wc -l"};
  const uint64_t id = SubmitDetached(kD, job);
  ASSERT_NE(id, 0u);
  WaitForWorkerList("a shard running", [](const auto& list) {
    for (const v1::WorkerInfo& w : list) {
      if (w.running() > 0) return true;
    }
    return false;
  });
  coordinator_->Kill();
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(/*retry=*/true));

  CliRun watch = Cli(kD, "watch", {absl::StrCat(id)});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_EQ(Trim(watch.out), absl::StrCat(lines));
  CliRun status = Cli(kD, "status", {"--json", absl::StrCat(id)});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto st = FromJson<v1::JobStatus>(status.out);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(st->result().value(), absl::StrCat(lines));

  // The restarted coordinator still has the file (its counters start again
  // at zero with the process), and a new submit of it uploads nothing.
  auto blob = StatBlob(sha);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE(blob->stored());
  EXPECT_EQ(blob->uploads(), 0u) << "uploaded again after the restart";
  CliRun again = Cli(kD, "submit",
                     {"--lines", Local(name), "--shards", "3", "--reduce",
                      "sum", "--", "wc", "-l"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Trim(again.out), absl::StrCat(lines));
  StagedLine s = ParseStagedLine(again.err);
  EXPECT_TRUE(s.found && s.uploaded == 0 && s.stored == 1) << again.err;
}

}  // namespace
}  // namespace staging
}  // namespace shardex
