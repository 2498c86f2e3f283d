// Fault tolerance end to end: real coordinators, workers and shard
// processes on 127.0.0.1, hurt on purpose (kill -9, SIGSTOP, SIGTERM, a
// killed shard child, a crashing or failing shard, a coordinator killed and
// restarted on its state directory, a straggler, random kills in a loop).
//
// Every test ends with the exact answer — a prime count known in advance,
// or a command job's sum computed here — or the exact expected error, and
// with no process of the cluster left behind. Nothing asserts on timing:
// where an event must happen mid-job, the job is held open by a gate file
// the test creates, or the test waits for the state it needs.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/job_state.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

#define EXPECT_OK(expr)                            \
  do {                                             \
    const absl::Status _st = (expr);               \
    EXPECT_TRUE(_st.ok()) << #expr << ": " << _st; \
  } while (0)
#define ASSERT_OK(expr)                            \
  do {                                             \
    const absl::Status _st = (expr);               \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st; \
  } while (0)

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

int CountLines(const std::string& path) {
  const std::string text = ReadFile(path).value_or("");
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

void Touch(const std::string& path) { std::ofstream(path) << "open\n"; }

class ChaosTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (c_ != nullptr && HasFailure()) {
      std::cerr << "cluster directory " << c_->dir() << "\n"
                << c_->LogTails() << "\n";
    }
  }

  // A cluster of `workers` workers with `threads` threads and `processes`
  // process slots each.
  void StartCluster(
      std::vector<std::string> coordinator_flags, int workers, int threads = 1,
      int processes = 2, std::vector<std::string> worker_flags = {}) {
    auto c = TestCluster::Start(std::move(coordinator_flags));
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = std::move(c).value();
    for (int i = 0; i < workers; ++i) {
      ASSERT_TRUE(c_->AddWorker(threads, processes, worker_flags).ok());
    }
    ASSERT_OK(c_->WaitForWorkers(workers));
  }

  uint64_t SubmitDetached(std::vector<std::string> args) {
    args.insert(args.begin(), "--detach");
    CliRun run = c_->Cli("submit", args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    uint64_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(Trim(run.out), &id)) << run.out << run.err;
    return id;
  }

  v1::JobStatus Status(uint64_t job) {
    auto s = c_->client().GetJob(job);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::JobStatus();
  }

  // Waits for `done`; fails the test (and returns the last status) if it
  // never holds.
  v1::JobStatus WaitFor(uint64_t job,
                        const std::function<bool(const v1::JobStatus&)>& done,
                        absl::Duration timeout = absl::Seconds(30)) {
    auto s = c_->WaitForJob(job, done, timeout);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : Status(job);
  }

  // The single job's id (for a `submit` running in the background).
  uint64_t OnlyJob() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      auto jobs = c_->client().ListJobs();
      if (jobs.ok() && jobs->size() == 1) return (*jobs)[0].job_id();
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "the job never appeared";
    return 0;
  }

  // Shard processes of `job`'s `shard` (attempt `attempt`, or any when 0)
  // whose command line contains `cmd`.
  std::vector<ClusterProcess> ShardProcs(uint64_t job, int shard,
                                         int attempt = 0,
                                         const std::string& cmd = "") {
    std::vector<ClusterProcess> out;
    for (ClusterProcess& p : c_->ShardProcesses()) {
      if (p.env["SHARDEX_JOB_ID"] != absl::StrCat(job) ||
          p.env["SHARDEX_SHARD"] != absl::StrCat(shard)) {
        continue;
      }
      if (attempt != 0 && p.env["SHARDEX_ATTEMPT"] != absl::StrCat(attempt)) {
        continue;
      }
      if (!absl::StrContains(p.cmdline, cmd)) continue;
      out.push_back(std::move(p));
    }
    return out;
  }

  // Once the job has ended: no shard process is left (a bounded wait for
  // the kills to land), and after the cluster stops, no process at all.
  void ExpectNoLeaks() {
    EXPECT_OK(c_->WaitForNoShardProcesses(absl::Seconds(10)));
    c_->Shutdown();
    EXPECT_OK(c_->WaitForNoProcesses(absl::Seconds(5)));
  }

  // A scratch directory for marker and gate files.
  std::string TestDir(const std::string& name) {
    const std::string dir = c_->dir() + "/" + name;
    mkdir(dir.c_str(), 0755);
    return dir;
  }

  std::unique_ptr<TestCluster> c_;
};

// 1. kill -9 of a worker holding shards: they finish elsewhere.
TEST_F(ChaosTest, KilledWorkersShardsFinishElsewhere) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({}, /*workers=*/3));
  const uint64_t job =
      SubmitDetached({"--shards", "60", "primes", "--to", "2e10"});
  // Worker 0 holds shards and the job is well under way.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool ready = false;
  while (!ready && absl::Now() < deadline) {
    auto info = c_->WorkerInfoOf(0);
    v1::JobStatus s = Status(job);
    ASSERT_FALSE(IsTerminal(s.state())) << "the job ended before the kill";
    ready = info.ok() && info->running() > 0 && s.shards_succeeded() >= 3;
    if (!ready) absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_TRUE(ready) << "worker 0 never held shards";
  c_->worker(0).Signal(SIGKILL);
  auto st = c_->WaitForWorkerExit(0, absl::Seconds(10));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL);

  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "882206716");  // pi(2 * 10^10)
  v1::JobStatus s = Status(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_GE(s.retries(), 1u);  // the lost shards really ran again
  EXPECT_EQ(s.shards_failed(), 0u);
  auto workers = c_->client().ListWorkers();
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->size(), 2u);
  ExpectNoLeaks();
}

// 2. A shard's child process killed while its worker lives: that attempt
// fails and runs again.
TEST_F(ChaosTest, KilledShardProcessIsRetried) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/2));
  // Attempt 1 of shard 2 becomes one long `sleep` (exec: no shell around
  // it), so killing it kills the shard's whole program.
  const uint64_t job = SubmitDetached(
      {"--shards", "6", "--reduce", "sum", "--shell", "--",
       "if [ {shard} = 2 ] && [ \"$SHARDEX_ATTEMPT\" = 1 ]; then "
       "exec sleep 60; fi; echo $(( {shard} * 10 + 1 ))"});
  std::vector<ClusterProcess> victim;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (victim.empty() && absl::Now() < deadline) {
    victim = ShardProcs(job, 2, 1, "sleep 60");
    if (victim.empty()) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(victim.size(), 1u) << "shard 2's child never started";
  ASSERT_EQ(kill(victim[0].pid, SIGKILL), 0);

  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "156");  // sum of 10k + 1, k = 0..5
  v1::JobStatus s = Status(job);
  EXPECT_GE(s.retries(), 1u);
  EXPECT_EQ(s.shards_failed(), 0u);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(c_->worker(i).running());
  ExpectNoLeaks();
}

// 3. A worker stopped past the heartbeat timeout: its shards finish
// elsewhere; when it comes back, its late work is discarded, not counted
// twice.
TEST_F(ChaosTest, StoppedWorkersLateWorkIsDiscarded) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      {"--allow-commands", "--heartbeat-timeout=1s"}, /*workers=*/0));
  const std::string gate = TestDir("gates") + "/open";
  // Shards 0 and 1 go to worker 0 alone; their first attempts outlive the
  // stop. Shard 3 holds the job open until the test opens the gate.
  ASSERT_TRUE(c_->AddWorker(1, 2).ok());
  ASSERT_OK(c_->WaitForWorkers(1));
  const uint64_t job = SubmitDetached(
      {"--shards", "4", "--reduce", "sum", "--shell", "--",
       absl::StrCat("case {shard}:$SHARDEX_ATTEMPT in "
                    "0:1|1:1) sleep 30 ;; "
                    "3:*) while [ ! -e ",
                    gate,
                    " ]; do sleep 0.05; done ;; "
                    "esac; echo $(( ({shard} + 1) * 1000 + 7 ))")});
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((ShardProcs(job, 0, 1, "sleep 30").empty() ||
          ShardProcs(job, 1, 1, "sleep 30").empty()) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(ShardProcs(job, 1, 1, "sleep 30").empty())
      << "worker 0 never started shards 0 and 1";
  ASSERT_TRUE(c_->AddWorker(1, 2).ok());  // takes shards 2 and 3
  ASSERT_OK(c_->WaitForWorkers(2));
  WaitFor(job,
          [](const v1::JobStatus& s) { return s.shards_succeeded() >= 1; });

  c_->worker(0).Signal(SIGSTOP);
  // Dropped after 1 s of silence; its shards run again on worker 1.
  v1::JobStatus s = WaitFor(
      job, [](const v1::JobStatus& s) { return s.shards_succeeded() == 3; });
  ASSERT_FALSE(IsTerminal(s.state()));
  c_->worker(0).Signal(SIGCONT);

  // It comes back (same pid, new session) holding attempts of accepted
  // shards: they are cancelled or their results dropped, and counted.
  const absl::Time back = absl::Now() + absl::Seconds(20);
  while (!c_->WorkerInfoOf(0).ok() && absl::Now() < back) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(c_->WorkerInfoOf(0).ok()) << "worker 0 did not reconnect";
  s = WaitFor(
      job, [](const v1::JobStatus& s) { return s.discarded_results() >= 1; },
      absl::Seconds(10));
  EXPECT_FALSE(IsTerminal(s.state()));

  Touch(gate);
  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "10028");  // (1+2+3+4) * 1000 + 4 * 7
  s = Status(job);
  EXPECT_GE(s.discarded_results(), 1u);
  EXPECT_EQ(s.result_mismatches(), 0u) << s.mismatch();
  EXPECT_EQ(s.shards_failed(), 0u);
  EXPECT_TRUE(c_->worker(0).running());
  ExpectNoLeaks();
}

// 4. kill -9 of the coordinator mid-job, restarted on its state directory:
// the same job resumes; accepted shards are not run again; workers come
// back by themselves; `watch` works.
TEST_F(ChaosTest, CoordinatorRestartResumesTheJob) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/2, 1,
                                       2));
  const std::string marks = TestDir("marks");
  const std::string gate = TestDir("gates") + "/open";
  // Every run of shard k appends a line to marks/k. Shards 0-3 finish at
  // once; 4-7 wait for the gate, so the job is running at the kill.
  const uint64_t job =
      SubmitDetached({"--shards", "8", "--reduce", "sum", "--shell", "--",
                      absl::StrCat("echo run >> ", marks,
                                   "/{shard}; "
                                   "if [ {shard} -ge 4 ]; then "
                                   "while [ ! -e ",
                                   gate,
                                   " ]; do sleep 0.05; done; fi; "
                                   "echo $(( {shard} * {shard} + 1 ))")});
  v1::JobStatus s = WaitFor(
      job, [](const v1::JobStatus& s) { return s.shards_succeeded() == 4; });
  ASSERT_EQ(s.shards_succeeded(), 4u);
  for (int k = 0; k < 4; ++k) {
    ASSERT_EQ(CountLines(absl::StrCat(marks, "/", k)), 1) << "shard " << k;
  }
  // Long after the acceptances (the journal commits in batches).
  absl::SleepFor(absl::Seconds(1));

  c_->KillCoordinator();
  ASSERT_OK(c_->RestartCoordinator());
  s = WaitFor(job, [](const v1::JobStatus&) { return true; });
  EXPECT_EQ(s.job_id(), job);
  EXPECT_FALSE(IsTerminal(s.state())) << s.ShortDebugString();
  EXPECT_EQ(s.shards_succeeded(), 4u);  // remembered, not re-run
  ASSERT_OK(c_->WaitForWorkers(2, absl::Seconds(20)));  // by themselves

  Touch(gate);
  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "148");  // sum of k^2 + 1, k = 0..7
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(CountLines(absl::StrCat(marks, "/", k)), 1)
        << "accepted shard " << k << " ran again";
  }
  for (int k = 4; k < 8; ++k) {
    EXPECT_GE(CountLines(absl::StrCat(marks, "/", k)), 1) << "shard " << k;
  }
  s = Status(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.shards_failed(), 0u);
  ExpectNoLeaks();
}

// A `watch` started before the coordinator dies follows the job through
// the restart (the client polls while the coordinator is briefly away).
TEST_F(ChaosTest, WatchFollowsAJobThroughACoordinatorRestart) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/1, 1,
                                       2));
  const std::string gate = TestDir("gates") + "/open";
  const uint64_t job =
      SubmitDetached({"--shards", "2", "--reduce", "sum", "--shell", "--",
                      absl::StrCat("while [ ! -e ", gate,
                                   " ]; do sleep 0.05; done; "
                                   "echo $(( {shard} + 20 ))")});
  WaitFor(job, [](const v1::JobStatus& s) { return s.shards_running() == 2; });
  auto watch = c_->StartCli("watch", {absl::StrCat(job)});
  ASSERT_TRUE(watch.ok());
  // Long enough for the CLI to start and connect, also under ASan (whose
  // binaries take ~0.4 s to start): a watch that never reached the
  // coordinator gives up at once by design.
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE((*watch)->running());

  c_->KillCoordinator();
  ASSERT_OK(c_->RestartCoordinator());
  ASSERT_OK(c_->WaitForWorkers(1, absl::Seconds(20)));
  Touch(gate);
  CliRun run = (*watch)->Finish(absl::Seconds(60));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "41");
  ExpectNoLeaks();
}

// 5. A shard that crashes every time fails its job with one clear message;
// another job on the same cluster is not disturbed.
TEST_F(ChaosTest, CrashingShardFailsItsJobOnly) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/2));
  const uint64_t other = SubmitDetached({"primes", "--to", "1e10"});
  CliRun run = c_->Cli("submit", {"--shards", "4", "--shell", "--",
                                  "if [ {shard} = 2 ]; then kill -SEGV $$; "
                                  "fi; echo {shard}"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
  const std::string err = Trim(run.err);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 0) << "one line: " << err;
  EXPECT_TRUE(absl::StrContains(err, "shard 2 ")) << err;
  EXPECT_TRUE(absl::StrContains(err, "3 attempts")) << err;
  EXPECT_TRUE(absl::StrContains(err, "SIGSEGV")) << err;

  CliRun good = c_->Cli("watch", {absl::StrCat(other)});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(Trim(good.out), "455052511");  // pi(10^10)
  auto jobs = c_->client().ListJobs();
  ASSERT_TRUE(jobs.ok());
  for (const v1::JobStatus& j : *jobs) {
    if (j.job_id() == other) continue;
    EXPECT_EQ(j.state(), v1::JOB_FAILED);
    EXPECT_EQ(j.shards_failed(), 1u);
    EXPECT_TRUE(absl::StrContains(j.error(), "shard 2 ")) << j.error();
  }
  ExpectNoLeaks();
}

// 6. A shard that fails once, then succeeds.
TEST_F(ChaosTest, ShardFailingOnceIsRetriedOnce) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/2));
  const uint64_t job = SubmitDetached(
      {"--shards", "5", "--reduce", "sum", "--shell", "--",
       "if [ {shard} = 1 ] && [ \"$SHARDEX_ATTEMPT\" = 1 ]; then exit 3; fi; "
       "echo $(( {shard} + 100 ))"});
  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "510");
  v1::JobStatus s = Status(job);
  EXPECT_EQ(s.retries(), 1u);
  EXPECT_EQ(s.shards_failed(), 0u);
  ExpectNoLeaks();
}

// 7. Cancelling a job while one of its shards is being retried.
TEST_F(ChaosTest, CancelDuringRetries) {
  ASSERT_NO_FATAL_FAILURE(
      StartCluster({"--allow-commands", "--max-attempts=50"}, /*workers=*/2));
  auto submit =
      c_->StartCli("submit", {"--shards", "3", "--shell", "--",
                              "if [ {shard} = 0 ]; then sleep 0.3; exit 1; fi; "
                              "echo {shard}"});
  ASSERT_TRUE(submit.ok());
  const uint64_t job = OnlyJob();
  WaitFor(job, [](const v1::JobStatus& s) { return s.retries() >= 2; });
  auto watch = c_->StartCli("watch", {absl::StrCat(job)});
  ASSERT_TRUE(watch.ok());
  CliRun cancel = c_->Cli("cancel", {absl::StrCat(job)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;

  CliRun submitted = (*submit)->Finish(absl::Seconds(30));
  EXPECT_EQ(submitted.exit_code, 4) << submitted.err;
  CliRun watched = (*watch)->Finish(absl::Seconds(30));
  EXPECT_EQ(watched.exit_code, 4) << watched.err;
  v1::JobStatus s = Status(job);
  EXPECT_EQ(s.state(), v1::JOB_CANCELLED);
  ExpectNoLeaks();
}

// 8. A straggler: one shard 20x slower than the rest.
constexpr char kStraggler[] =
    "if [ {shard} = 3 ] && [ \"$SHARDEX_ATTEMPT\" = 1 ]; then sleep 4; "
    "else sleep 0.2; fi; echo $(( {shard} * 7 ))";

TEST_F(ChaosTest, StragglerGetsABackupAttempt) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      {"--allow-commands", "--speculation-after=0.5",
       "--speculation-slowdown=3", "--speculation-min-runtime=300ms"},
      /*workers=*/2));
  const uint64_t job = SubmitDetached(
      {"--shards", "8", "--reduce", "sum", "--shell", "--", kStraggler});
  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "196");  // 7 * (0 + 1 + ... + 7)
  v1::JobStatus s = Status(job);
  EXPECT_GE(s.speculative_attempts(), 1u);
  EXPECT_EQ(s.shards_failed(), 0u);
  EXPECT_EQ(s.result_mismatches(), 0u) << s.mismatch();
  ExpectNoLeaks();  // the losing attempt was stopped
}

TEST_F(ChaosTest, NoSpeculationStartsNoBackup) {
  ASSERT_NO_FATAL_FAILURE(
      StartCluster({"--allow-commands", "--no-speculation"}, /*workers=*/2));
  const uint64_t job = SubmitDetached(
      {"--shards", "8", "--reduce", "sum", "--shell", "--", kStraggler});
  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "196");
  v1::JobStatus s = Status(job);
  EXPECT_EQ(s.speculative_attempts(), 0u);
  EXPECT_EQ(s.retries(), 0u);
  ExpectNoLeaks();
}

// 9. SIGTERM drains a worker mid-job: it finishes or hands back its shards
// and exits 0; nothing counts as failed.
TEST_F(ChaosTest, SigtermDrainsAWorker) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/2, 1,
                                       2, {"--drain-timeout=5s"}));
  const uint64_t job =
      SubmitDetached({"--shards", "12", "--reduce", "sum", "--shell", "--",
                      "sleep 0.4; echo $(( {shard} + 1 ))"});
  const pid_t pid = c_->worker(0).pid();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool busy = false;
  while (!busy && absl::Now() < deadline) {
    for (const ClusterProcess& p : c_->ShardProcesses()) {
      busy = busy || p.ppid == pid;
    }
    if (!busy) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(busy) << "worker 0 never ran a shard";
  ASSERT_FALSE(IsTerminal(Status(job).state()));
  c_->worker(0).Signal(SIGTERM);
  auto st = c_->WaitForWorkerExit(0, absl::Seconds(15));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st;

  CliRun run = c_->Cli("watch", {absl::StrCat(job)});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "78");  // 1 + ... + 12
  v1::JobStatus s = Status(job);
  EXPECT_EQ(s.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(s.shards_failed(), 0u);
  ExpectNoLeaks();
}

// 10. Workers killed at random, one every few hundred ms, replaced at once,
// while a long-ish job runs.
TEST_F(ChaosTest, RepeatedRandomWorkerKills) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({}, /*workers=*/4));
  const uint64_t job =
      SubmitDetached({"--shards", "300", "primes", "--to", "1e11"});
  std::mt19937 rng(20261125);
  std::vector<int> live = {0, 1, 2, 3};
  int kills = 0;
  const absl::Time chaos_end = absl::Now() + absl::Seconds(12);
  while (absl::Now() < chaos_end) {
    absl::SleepFor(
        absl::Milliseconds(std::uniform_int_distribution<int>(150, 450)(rng)));
    if (IsTerminal(Status(job).state())) break;
    const size_t pick =
        std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
    c_->worker(live[pick]).Signal(SIGKILL);
    ASSERT_TRUE(c_->WaitForWorkerExit(live[pick], absl::Seconds(10)).ok());
    ++kills;
    auto added = c_->AddWorker(1);
    ASSERT_TRUE(added.ok()) << added.status();
    live[pick] = *added;
  }
  EXPECT_GE(kills, 5) << "the job ended before much chaos";

  CliRun run = c_->Cli("watch", {absl::StrCat(job)}, absl::Seconds(180));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "4118054813");  // pi(10^11)
  v1::JobStatus s = Status(job);
  EXPECT_GE(s.retries(), 1u);
  EXPECT_EQ(s.shards_failed(), 0u);
  ExpectNoLeaks();
}

// A shard exiting with a code marked non-retriable fails the job at once.
TEST_F(ChaosTest, NonRetriableExitCodeFailsAtOnce) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/1));
  CliRun run = c_->Cli("submit", {"--shards", "2", "--no-retry-exit", "42",
                                  "--shell", "--", "exit 42"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "attempt 1 ")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "non-retriable")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "exit code 42")) << run.err;
  auto jobs = c_->client().ListJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].state(), v1::JOB_FAILED);
  EXPECT_EQ((*jobs)[0].retries(), 0u);
  // Any other code is still retried.
  run = c_->Cli("submit", {"--shards", "2", "--no-retry-exit", "42", "--shell",
                           "--", "exit 7"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "3 attempts")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "exit code 7")) << run.err;
  ExpectNoLeaks();
}

// The leak check itself: a process that left its shard's process group
// (so no group kill reaches it) is still found, through its TMPDIR. (The
// shard waits a moment: killing its group at once could beat setsid.)
TEST_F(ChaosTest, LeakCheckFindsAnEscapedProcess) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--allow-commands"}, /*workers=*/1));
  CliRun run = c_->Cli("submit", {"--shards", "1", "--shell", "--",
                                  "setsid sleep 31.5 </dev/null >/dev/null "
                                  "2>&1 & sleep 0.3; echo started"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  absl::Status left = c_->WaitForNoShardProcesses(absl::Milliseconds(500));
  EXPECT_TRUE(absl::StrContains(left.message(), "sleep 31.5")) << left;
  c_->Shutdown();
  left = c_->WaitForNoProcesses(absl::Milliseconds(500));
  EXPECT_TRUE(absl::StrContains(left.message(), "sleep 31.5")) << left;
  // The cluster's destructor kills it.
}

}  // namespace
}  // namespace shardex
