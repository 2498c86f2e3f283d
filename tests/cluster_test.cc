// End-to-end tests: a real coordinator and real worker processes on
// 127.0.0.1, driven through the `shardex` CLI and the client library.
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/job_state.h"
#include "common/sanitizers.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

std::unique_ptr<TestCluster> StartCluster(int workers, int threads = 1) {
  auto c = TestCluster::Start();
  EXPECT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < workers; ++i) EXPECT_TRUE((*c)->AddWorker(threads).ok());
  EXPECT_TRUE((*c)->WaitForWorkers(workers).ok());
  return std::move(c).value();
}

uint64_t SubmitDetached(TestCluster& c, std::vector<std::string> args) {
  std::vector<std::string> all = {"--detach"};
  all.insert(all.end(), args.begin(), args.end());
  CliRun run = c.Cli("submit", all);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return std::stoull(Trim(run.out));
}

// The cluster still runs a job correctly (after a bad request, say).
void ExpectStillServes(TestCluster& c) {
  CliRun run = c.Cli("submit", {"primes", "--to", "100000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "9592");
}

TEST(ClusterTest, PrimesAreExactForAnyShardCount) {
  auto c = StartCluster(2);
  CliRun run = c->Cli("submit", {"primes", "--to", "1e9"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "50847534");
  run = c->Cli("submit", {"--shards", "37", "primes", "--to", "1000000000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "50847534");
  run = c->Cli("submit", {"primes", "--to", "1e10", "--shards", "16"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "455052511");
}

TEST(ClusterTest, PiIsIdenticalForOneAndThreeWorkers) {
  std::string one, three;
  {
    auto c = StartCluster(1);
    CliRun run = c->Cli("submit", {"--shards", "13", "pi", "--samples",
                                   "20000000", "--seed", "42"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    one = Trim(run.out);
  }
  {
    auto c = StartCluster(3);
    CliRun run = c->Cli("submit", {"--shards", "5", "pi", "--samples",
                                   "20000000", "--seed", "42"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    three = Trim(run.out);
  }
  EXPECT_EQ(one, three);
  EXPECT_EQ(one.substr(0, 4), "3.14");
}

// Thousands of small jobs through one long-lived worker: it forgets each
// job when the job ends (the coordinator's end notice), so the definitions
// it holds, as its heartbeats report them, do not grow with the jobs run.
TEST(ClusterTest, AWorkerForgetsEveryJobWhenItEnds) {
  auto c = StartCluster(1);
  constexpr int kJobs = 2000;
  v1::JobSpec spec;
  spec.set_kernel("sleep");
  (*spec.mutable_args())["ms"] = "0";
  spec.set_shards(2);
  uint64_t last = 0;
  for (int i = 0; i < kJobs; ++i) {
    absl::StatusOr<v1::JobStatus> s = c->client().Submit(spec);
    ASSERT_TRUE(s.ok()) << s.status();
    last = s->job_id();
  }
  absl::StatusOr<v1::JobStatus> ended = c->WaitForJob(
      last, [](const v1::JobStatus& s) { return IsTerminal(s.state()); },
      absl::Seconds(120));
  ASSERT_TRUE(ended.ok()) << ended.status();
  auto jobs = c->client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  for (const v1::JobStatus& j : *jobs) {
    EXPECT_EQ(j.state(), v1::JOB_SUCCEEDED) << "job " << j.job_id();
  }
  // Heartbeats come once a second when the worker is idle: wait for one
  // sent after the last job ended.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  uint64_t known = kJobs;
  absl::Time heard = absl::InfinitePast();
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::WorkerInfo> w = c->WorkerInfoOf(0);
    ASSERT_TRUE(w.ok()) << w.status();
    known = w->jobs_known();
    heard = absl::FromUnixMillis(w->last_heartbeat_unix_ms());
    if (heard > absl::FromUnixMillis(ended->end_time_unix_ms()) + absl::Seconds(1) &&
        known == 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(known, 0u) << "the worker still holds definitions of ended jobs "
                          "(last heartbeat at "
                       << heard << ")";
}

TEST(ClusterTest, WorkerJoiningMidJobTakesShards) {
  auto c = StartCluster(1);
  // 30 shards of 100 ms: 3 s on one worker alone.
  const uint64_t job =
      SubmitDetached(*c, {"--shards", "30", "sleep", "--ms", "100"});
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(c->AddWorker(1).ok());
  CliRun run = c->Cli("watch", {std::to_string(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "30");
  auto workers = c->client().ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 2u);
  for (const auto& w : *workers) EXPECT_GT(w.completed(), 0u) << w.host();
}

TEST(ClusterTest, KilledWorkersShardsFinishElsewhereExactly) {
  auto c = StartCluster(2);
  const uint64_t job = SubmitDetached(
      *c, {"--shards", "60", "primes", "--to", "20000000000"});
  // Wait until worker 0 holds shards, then kill it without warning.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    auto s = c->client().GetJob(job);
    ASSERT_TRUE(s.ok());
    if (s->shards_succeeded() >= 4) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  auto before = c->client().GetJob(job);
  ASSERT_TRUE(before.ok());
  ASSERT_FALSE(IsTerminal(before->state())) << "job ended before the kill";
  c->worker(0).Signal(SIGKILL);
  CliRun run = c->Cli("watch", {std::to_string(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "882206716");  // pi(2 * 10^10)
  auto after = c->client().GetJob(job);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->retries(), 0u);  // the lost shards really were re-run
  auto workers = c->client().ListWorkers();
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->size(), 1u);
}

TEST(ClusterTest, CancelStopsAJobAndTheClusterServesOn) {
  auto c = StartCluster(2);
  const uint64_t job =
      SubmitDetached(*c, {"--shards", "100", "sleep", "--ms", "1000"});
  CliRun cancel = c->Cli("cancel", {std::to_string(job)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  CliRun watch = c->Cli("watch", {std::to_string(job)});
  EXPECT_EQ(watch.exit_code, 4) << watch.err;  // cancelled
  auto s = c->client().GetJob(job);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state(), v1::JOB_CANCELLED);
  CliRun again = c->Cli("cancel", {std::to_string(job)});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already ended"), std::string::npos) << again.err;
  ExpectStillServes(*c);  // the cancelled shards freed their slots
}

TEST(ClusterTest, TwoConcurrentJobsBothFinishExactly) {
  auto c = StartCluster(2);
  const uint64_t a = SubmitDetached(*c, {"primes", "--to", "2e9"});
  const uint64_t b = SubmitDetached(
      *c, {"pi", "--samples", "30000000", "--seed", "7"});
  CliRun ra = c->Cli("watch", {std::to_string(a)});
  CliRun rb = c->Cli("watch", {std::to_string(b)});
  EXPECT_EQ(ra.exit_code, 0) << ra.err;
  EXPECT_EQ(Trim(ra.out), "98222287");  // pi(2 * 10^9)
  EXPECT_EQ(rb.exit_code, 0) << rb.err;
  // The same pi job alone gives the same digits.
  CliRun alone =
      c->Cli("submit", {"pi", "--samples", "30000000", "--seed", "7"});
  EXPECT_EQ(Trim(alone.out), Trim(rb.out));
  CliRun jobs = c->Cli("jobs", {});
  EXPECT_EQ(jobs.exit_code, 0);
  EXPECT_NE(jobs.out.find("succeeded"), std::string::npos) << jobs.out;
}

TEST(ClusterTest, StatusAndWorkersCommandsShowTheCluster) {
  auto c = StartCluster(2);
  CliRun run = c->Cli("submit", {"--json", "primes", "--to", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("\"value\":\"168\""), std::string::npos) << run.out;
  CliRun status = c->Cli("status", {"1"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("result:   168"), std::string::npos) << status.out;
  CliRun workers = c->Cli("workers", {});
  EXPECT_EQ(workers.exit_code, 0);
  EXPECT_NE(workers.out.find("test-worker-0"), std::string::npos);
  EXPECT_NE(workers.out.find("test-worker-1"), std::string::npos);
}

// ------------------------------------------------------------- bad input

TEST(ClusterBadInputTest, EachBadRequestGetsOneClearErrorAndNothingBreaks) {
  auto c = StartCluster(1);
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"nosuchkernel"}, 2, "nosuchkernel"},
      {{"primes", "--from", "10", "--to", "5"}, 2, "--from"},
      {{"--shards", "0", "primes", "--to", "100"}, 2, "--shards"},
      {{"--shards", "100000000", "primes", "--to", "1e12"}, 2, "shards"},
      {{"--shards", "50", "primes", "--to", "10"}, 2, "shards"},
      {{"primes", "--to", "12x"}, 2, "--to"},
      {{"primes"}, 2, "--to"},
      {{"--bogus", "primes", "--to", "10"}, 2, "bogus"},
      {{"pi", "--samples", "0"}, 2, "--samples"},
  };
  for (const Case& k : cases) {
    CliRun run = c->Cli("submit", k.args);
    EXPECT_EQ(run.exit_code, k.exit_code)
        << absl::StrJoin(k.args, " ") << ": " << run.err;
    EXPECT_NE(run.err.find(k.message), std::string::npos)
        << absl::StrJoin(k.args, " ") << ": " << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
  // The same mistakes through the API, past the CLI's own checks.
  v1::JobSpec spec;
  spec.set_kernel("nosuchkernel");
  EXPECT_EQ(c->client().Submit(spec).status().code(),
            absl::StatusCode::kNotFound);
  spec.set_kernel("primes");
  (*spec.mutable_args())["to"] = "-5";
  EXPECT_EQ(c->client().Submit(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  (*spec.mutable_args())["to"] = "100";
  (*spec.mutable_args())["colour"] = "blue";
  EXPECT_EQ(c->client().Submit(spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->client().GetJob(12345).status().code(),
            absl::StatusCode::kNotFound);
  CliRun status = c->Cli("status", {"12345"});
  EXPECT_EQ(status.exit_code, 2);
  EXPECT_NE(status.err.find("no job 12345"), std::string::npos) << status.err;

  EXPECT_TRUE(c->coordinator().running());
  EXPECT_TRUE(c->worker(0).running());
  EXPECT_TRUE(c->client().ListJobs()->empty());  // nothing was half-created
  ExpectStillServes(*c);
}

TEST(ClusterBadInputTest, UnreachableCoordinatorIsExitCodeThree) {
  // A port that was free a moment ago: nothing listens there.
  auto c = TestCluster::Start();
  ASSERT_TRUE(c.ok());
  const std::string address = (*c)->address();
  c->reset();  // stops the coordinator
  CliRun run = RunCli({"jobs", "--coordinator=" + address});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_NE(run.err.find("cannot reach the coordinator"), std::string::npos)
      << run.err;
  run = RunCli({"submit", "--coordinator=" + address, "primes", "--to", "10"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
}

TEST(ClusterBadInputTest, HelpAndVersionExitZero) {
  CliRun run = RunCli({"--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("Exit codes"), std::string::npos) << run.out;
  run = RunCli({"submit", "primes", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("--to"), std::string::npos) << run.out;
  run = RunCli({"--version"});
  EXPECT_EQ(run.exit_code, 0);
  // The binary runs on tcmalloc (common/allocator.h); a sanitizer build on
  // the sanitizer's own malloc.
  EXPECT_NE(run.out.find(SanitizerBuild() ? "; system malloc)" : "; tcmalloc "),
            std::string::npos)
      << run.out;
  run = RunCli({});
  EXPECT_EQ(run.exit_code, 2);  // a command is required
}

}  // namespace
}  // namespace shardex
