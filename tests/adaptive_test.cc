// Adaptive shards and straggler splitting end to end: a real coordinator
// and real workers on 127.0.0.1. Correctness only (timings: bench/).
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/job_state.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

// Without --shards, a range job is cut as it runs: the answer is exact and
// the status says how it was cut.
TEST(AdaptiveTest, RangeJobsAreCutAsTheyRunAndStayExact) {
  auto c = TestCluster::Start();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->AddWorker(2).ok());
  ASSERT_TRUE((*c)->WaitForWorkers(1).ok());
  CliRun run = (*c)->Cli("submit", {"primes", "--to", "1e9",
                                    "--target-shard-time", "50ms"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "50847534");
  auto jobs = (*c)->client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  const v1::JobStatus& s = jobs->front();
  EXPECT_TRUE(s.adaptive());
  EXPECT_EQ(s.units_done(), s.units_total());
  // Probes first, then about 50 ms shards: more than a fixed 4 x slots.
  EXPECT_GT(s.shards_total(), 8u);
  // --shards still means exactly that many.
  run = (*c)->Cli("submit", {"--shards", "3", "primes", "--to", "1e6"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "78498");
  // Bad input gets a clear error and a non-zero exit.
  run = (*c)->Cli("submit",
                  {"--target-shard-time", "soon", "primes", "--to", "1e6"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.err.find("--target-shard-time"), std::string::npos) << run.err;
}

// A --range command without {shard}/{shards} is adaptive too; its parts are
// named by range, tile the range in order, and concatenate to the result.
TEST(AdaptiveTest, RangeCommandPartsAreNamedByRange) {
  auto c = TestCluster::Start({"--allow-commands"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->AddWorker(1, 2).ok());
  ASSERT_TRUE((*c)->WaitForWorkers(1).ok());
  const std::string out = (*c)->dir() + "/parts";
  CliRun run = (*c)->Cli(
      "submit", {"--range", "0:5000", "--output", out, "--", "awk",
                 "BEGIN { for (i = {begin}; i < {end}; i++) print i }"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind("part-", 0) == 0) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  ASSERT_FALSE(names.empty());
  uint64_t at = 0;
  std::string all;
  for (const std::string& n : names) {
    // part-BEGIN-END, four digits each (the range ends at 5000).
    ASSERT_EQ(n.size(), 14u) << n;
    EXPECT_EQ(std::stoull(n.substr(5, 4)), at) << n;
    at = std::stoull(n.substr(10, 4));
    absl::StatusOr<std::string> data = ReadFile(out + "/" + n);
    ASSERT_TRUE(data.ok());
    all += *data;
  }
  EXPECT_EQ(at, 5000u);
  absl::StatusOr<std::string> result = ReadFile(out + "/result");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, all);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 5000);
}

// One worker is stopped (SIGSTOP) in the middle of a long shard; another
// runs everything else and goes idle. The coordinator asks the stopped one
// to split; once it runs again it stops at the split point and the rest runs
// on the idle worker. The answer is exact and the status counts the split.
TEST(AdaptiveTest, AStragglersShardIsSplitForAnIdleWorker) {
  // Long heartbeat timeout: the stopped worker must not be dropped.
  auto c = TestCluster::Start({"--heartbeat-timeout=120s"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->AddWorker(1).ok());
  ASSERT_TRUE((*c)->WaitForWorkers(1).ok());
  CliRun run = (*c)->Cli("submit", {"--detach", "primes", "--to", "2e10",
                                    "--target-shard-time", "20s"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const uint64_t job = std::stoull(Trim(run.out));

  // Worker 0 has finished its probe and runs a long shard: stop it there.
  v1::JobStatus s;
  for (int i = 0; i < 3000; ++i) {
    auto got = (*c)->client().GetJob(job);
    ASSERT_TRUE(got.ok()) << got.status();
    s = *got;
    if (s.shards_succeeded() >= 1 && s.shards_running() == 1) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(s.shards_running(), 1u) << s.DebugString();
  (*c)->worker(0).Signal(SIGSTOP);

  // Worker 1 takes whatever is left to cut, then idles: only the stopped
  // worker's shard runs and nothing is queued.
  ASSERT_TRUE((*c)->AddWorker(1).ok());
  for (int i = 0; i < 12000; ++i) {
    auto got = (*c)->client().GetJob(job);
    ASSERT_TRUE(got.ok()) << got.status();
    s = *got;
    if (s.shards_running() == 1 && s.shards_queued() == 0 &&
        s.shards_succeeded() + 1 == s.shards_total() &&
        s.shards_total() > 2) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  (*c)->worker(0).Signal(SIGCONT);
  absl::StatusOr<v1::JobStatus> end = (*c)->WaitForJob(
      job, [](const v1::JobStatus& st) { return IsTerminal(st.state()); },
      absl::Seconds(300));
  ASSERT_TRUE(end.ok()) << end.status();
  ASSERT_EQ(end->state(), v1::JOB_SUCCEEDED) << end->error();
  EXPECT_EQ(end->result().value(), "882206716");
  EXPECT_GE(end->splits(), 1u)
      << end->DebugString() << (*c)->LogTails()
      << (*c)->Cli("status", {std::to_string(job), "--shards"}).out;
  EXPECT_EQ(end->units_done(), end->units_total());
}

}  // namespace
}  // namespace shardex
