#include "worker/executor.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "worker/test_files.h"

namespace shardex {
namespace {

// Collects results from pool threads.
class Results {
 public:
  void Add(v1::ShardResult r) {
    absl::MutexLock lock(&mu_);
    results_.push_back(std::move(r));
  }
  // Waits until `n` results arrived (or 30 s passed) and returns them.
  std::vector<v1::ShardResult> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return results_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return results_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return results_.size();
  }
  std::vector<v1::ShardResult> all() {
    absl::MutexLock lock(&mu_);
    return results_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::ShardResult> results_ ABSL_GUARDED_BY(mu_);
};

v1::AssignmentBatch Batch(uint64_t job, const std::string& kernel,
                          std::map<std::string, std::string> args,
                          std::vector<std::pair<uint64_t, uint64_t>> ranges) {
  v1::AssignmentBatch b;
  v1::JobDefinition* def = b.add_jobs();
  def->set_job_id(job);
  def->set_kernel(kernel);
  for (auto& [k, v] : args) (*def->mutable_args())[k] = v;
  for (size_t i = 0; i < ranges.size(); ++i) {
    v1::ShardTask* t = b.add_tasks();
    t->mutable_ref()->set_job_id(job);
    t->mutable_ref()->set_shard(i);
    t->mutable_ref()->set_attempt(1);
    t->set_begin(ranges[i].first);
    t->set_end(ranges[i].second);
  }
  return b;
}

v1::ShardRef Ref(uint64_t job, uint64_t shard, uint32_t attempt = 1) {
  v1::ShardRef ref;
  ref.set_job_id(job);
  ref.set_shard(shard);
  ref.set_attempt(attempt);
  return ref;
}

// What the coordinator sends every worker that had job `job` once it ends.
v1::CancelShards JobEnded(uint64_t job) {
  v1::CancelShards cancel;
  cancel.add_job_ids(job);
  return cancel;
}

TEST(ShardExecutorTest, RunsShardsAndReportsPayloads) {
  Results results;
  ShardExecutor exec({2, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(1, "primes", {{"to", "1000"}}, {{0, 500}, {500, 1000}}));
  auto got = results.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  uint64_t total = 0;
  for (const auto& r : got) {
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.ref().job_id(), 1u);
    total += std::stoull(r.payload());
  }
  EXPECT_EQ(total, 168u);  // pi(1000)
  // An attempt is held until its result has gone through the sink.
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(exec.InFlight(), 0u);
}

TEST(ShardExecutorTest, BadJobDefinitionFailsItsTasks) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(2, "nosuchkernel", {}, {{0, 1}}));
  auto got = results.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].ok());
  EXPECT_NE(got[0].error().find("nosuchkernel"), std::string::npos);
}

TEST(ShardExecutorTest, CancelledJobReportsNothingAndStopsEarly) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  // Two 60-second shards on one thread: only a cancel ends this quickly.
  exec.Assign(Batch(3, "sleep", {{"ms", "60000"}}, {{0, 1}, {1, 2}}));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(exec.InFlight(), 2u);
  const absl::Time start = absl::Now();
  exec.Cancel(JobEnded(3));
  while (exec.InFlight() > 0 && absl::Now() - start < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(exec.InFlight(), 0u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(results.size(), 0u);
  EXPECT_EQ(exec.KnownJobs(), 0u);  // the job has ended: forgotten
}

// The coordinator names every ended job in CancelShards.job_ids; a worker
// that runs jobs for weeks must not keep their definitions (nor the errors
// of rejected ones) beyond that.
TEST(ShardExecutorTest, ForgetsEndedJobsSoItsJobTableStaysBounded) {
  Results results;
  ShardExecutor exec({2, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  constexpr uint64_t kJobs = 3000;
  size_t most_known = 0;
  for (uint64_t job = 1; job <= kJobs; ++job) {
    // Every tenth definition is rejected (an unknown kernel).
    const bool bad = job % 10 == 0;
    exec.Assign(
        Batch(job, bad ? "nosuchkernel" : "sleep", {{"ms", "0"}}, {{0, 1}}));
    const std::vector<v1::ShardResult> got = results.WaitFor(job);
    ASSERT_EQ(got.size(), job);
    EXPECT_EQ(got.back().ok(), !bad) << got.back().error();
    most_known = std::max(most_known, exec.KnownJobs());
    exec.Cancel(JobEnded(job));
  }
  EXPECT_LE(most_known, 1u);
  EXPECT_EQ(exec.KnownJobs(), 0u);
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
}

// docs/protocol.md: job ids are never reused, so a worker keeps the first
// definition it got for a job and ignores any later one (a new session
// re-sends definitions), good or bad.
TEST(ShardExecutorTest, FirstDefinitionOfAJobWins) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(30, "primes", {{"to", "100"}}, {{0, 100}}));
  ASSERT_EQ(results.WaitFor(1).size(), 1u);
  // Defined again with a wider domain: [0, 1000) would count 168 primes
  // under the new definition, but lies outside the first one's [0, 100).
  v1::AssignmentBatch wider = Batch(30, "primes", {{"to", "1000"}}, {});
  v1::ShardTask* task = wider.add_tasks();
  *task->mutable_ref() = Ref(30, 1);
  task->set_begin(0);
  task->set_end(1000);
  exec.Assign(wider);
  std::vector<v1::ShardResult> got = results.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[1].ok());
  EXPECT_NE(got[1].error().find("[0, 100)"), std::string::npos)
      << got[1].error();

  // A rejected definition stays rejected when a good one follows.
  exec.Assign(Batch(31, "nosuchkernel", {}, {{0, 1}}));
  exec.Assign(Batch(31, "sleep", {{"ms", "0"}}, {{0, 1}, {1, 2}}));
  got = results.WaitFor(5);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_FALSE(got[i].ok());
    EXPECT_NE(got[i].error().find("nosuchkernel"), std::string::npos)
        << got[i].error();
  }
  EXPECT_EQ(exec.KnownJobs(), 2u);
}

TEST(ShardExecutorTest, CancelOneAttemptLeavesTheOthers) {
  Results results;
  ShardExecutor exec({2, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(4, "sleep", {{"ms", "60000"}}, {{0, 1}}));
  v1::AssignmentBatch quick = Batch(5, "sleep", {{"ms", "0"}}, {{0, 1}});
  exec.Assign(quick);
  auto got = results.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref().job_id(), 5u);
  v1::CancelShards cancel;
  v1::ShardRef* ref = cancel.add_shards();
  ref->set_job_id(4);
  ref->set_shard(0);
  ref->set_attempt(1);
  exec.Cancel(cancel);
  while (exec.InFlight() > 0) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(results.size(), 1u);
}

// A command job running `script` under /bin/sh, one task per shard.
v1::AssignmentBatch CommandBatch(uint64_t job, const std::string& script,
                                 int shards = 1) {
  v1::AssignmentBatch b;
  v1::JobDefinition* def = b.add_jobs();
  def->set_job_id(job);
  def->set_shards(shards);
  v1::CommandSpec* cmd = def->mutable_command();
  cmd->set_max_output_bytes(1 << 20);  // the coordinator fills in defaults
  cmd->add_argv("/bin/sh");
  cmd->add_argv("-c");
  cmd->add_argv(script);
  for (int i = 0; i < shards; ++i) {
    v1::ShardTask* t = b.add_tasks();
    *t->mutable_ref() = Ref(job, i);
    t->set_begin(i);
    t->set_end(i + 1);
  }
  return b;
}


// Waits (up to 30 s) until `n` attempts are running.
void WaitRunning(const ShardExecutor& exec, uint32_t n) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (exec.counts().running < n && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(2));
  }
}

bool HasRef(const std::vector<v1::ShardRef>& refs, const v1::ShardRef& ref) {
  for (const v1::ShardRef& r : refs) {
    if (r.job_id() == ref.job_id() && r.shard() == ref.shard() &&
        r.attempt() == ref.attempt()) {
      return true;
    }
  }
  return false;
}

TEST(ShardExecutorTest, HeldListsQueuedAndRunningAttempts) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(6, "sleep", {{"ms", "60000"}}, {{0, 1}, {1, 2}, {2, 3}}));
  WaitRunning(exec, 1);
  const std::vector<v1::ShardRef> held = exec.Held();
  ASSERT_EQ(held.size(), 3u);
  for (uint64_t shard = 0; shard < 3; ++shard) {
    EXPECT_EQ(held[shard].job_id(), 6u);
    EXPECT_EQ(held[shard].shard(), shard);
    EXPECT_EQ(held[shard].attempt(), 1u);
  }
  const ShardExecutor::Counts counts = exec.counts();
  EXPECT_EQ(counts.running, 1u);
  EXPECT_EQ(counts.queued, 2u);
  exec.CancelAll();
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  EXPECT_TRUE(exec.Held().empty());
  EXPECT_EQ(results.size(), 0u);
}

// A new coordinator session re-sends definitions and may re-send attempts
// the worker adopted; neither disturbs what is running, and results keep
// coming.
TEST(ShardExecutorTest, KeepsRunningAcrossASessionChange) {
  Results results;
  ShardExecutor exec({1, 2},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  const std::string gate = TempPath("session-gate");
  std::remove(gate.c_str());
  exec.Assign(
      CommandBatch(7, absl::StrCat("while [ ! -e ", gate,
                                   " ]; do sleep 0.01; done; echo done")));
  WaitRunning(exec, 1);

  // "Session 2": the held attempts are what Register.running carries; the
  // coordinator adopts them, defines the job again, and adds work.
  ASSERT_TRUE(HasRef(exec.Held(), Ref(7, 0)));
  v1::AssignmentBatch again =
      CommandBatch(7, "echo this definition is ignored", 2);
  exec.Assign(again);  // task (7, 0, 1) is already held: ignored
  exec.Assign(Batch(8, "primes", {{"to", "100"}}, {{0, 100}}));
  auto got = results.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref().job_id(), 8u);
  EXPECT_EQ(std::stoull(got[0].payload()), 25u);  // pi(100)
  const std::vector<v1::ShardRef> held = exec.Held();
  // (7, 0) still running, (7, 1) joined it.
  EXPECT_TRUE(HasRef(held, Ref(7, 0)));
  EXPECT_TRUE(HasRef(held, Ref(7, 1)));

  std::ofstream(gate) << "go\n";
  got = results.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  int gated = 0;
  for (const v1::ShardResult& r : got) {
    ASSERT_TRUE(r.ok()) << r.error();
    if (r.ref().job_id() == 7) {
      // The first definition is kept: both shards run the gated script.
      EXPECT_EQ(r.payload(), "done\n");
      ++gated;
    }
  }
  EXPECT_EQ(gated, 2);
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(results.size(), 3u);
}

// A job's program is found in PATH once, when the job is defined (like a
// shell's command hash): a later shard of the job runs the same file even
// after an earlier PATH entry gains one of that name; a new job looks again.
TEST(ShardExecutorTest, FindsAJobsProgramOnceForTheJob) {
  const std::string root = TempPath("executor-test-path");
  RemoveTree(root).IgnoreError();
  const std::string early = root + "/early", late = root + "/late";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(early.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(late.c_str(), 0755), 0);
  auto tool = [](const std::string& dir) {
    const std::string path = dir + "/sx-path-tool";
    std::ofstream(path) << "#!/bin/sh\necho " << dir << "\n";
    chmod(path.c_str(), 0755);
  };
  tool(late);
  const char* old_path = getenv("PATH");
  const std::string saved = old_path != nullptr ? old_path : "";
  setenv("PATH", (early + ":" + late + ":/usr/bin:/bin").c_str(), 1);

  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  auto job = [](uint64_t id, uint64_t shard, bool define) {
    v1::AssignmentBatch b;
    if (define) {
      v1::JobDefinition* def = b.add_jobs();
      def->set_job_id(id);
      def->set_shards(2);
      def->mutable_command()->set_max_output_bytes(1 << 20);
      def->mutable_command()->add_argv("sx-path-tool");
    }
    v1::ShardTask* t = b.add_tasks();
    *t->mutable_ref() = Ref(id, shard);
    t->set_begin(shard);
    t->set_end(shard + 1);
    return b;
  };
  exec.Assign(job(1, 0, true));
  ASSERT_EQ(results.WaitFor(1).size(), 1u);
  tool(early);  // now first in PATH
  exec.Assign(job(1, 1, false));
  exec.Assign(job(2, 0, true));
  std::vector<v1::ShardResult> got = results.WaitFor(3);
  setenv("PATH", saved.c_str(), 1);
  ASSERT_EQ(got.size(), 3u);
  for (const v1::ShardResult& r : got) {
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.payload(), (r.ref().job_id() == 1 ? late : early) + "\n")
        << "job " << r.ref().job_id() << " shard " << r.ref().shard();
  }
  RemoveTree(root).IgnoreError();
}

TEST(ShardExecutorTest, CommandExitCodeIsReported) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(CommandBatch(9, "exit 42"));
  exec.Assign(CommandBatch(10, "echo fine"));
  exec.Assign(CommandBatch(11, "kill -9 $$"));
  auto got = results.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  for (const v1::ShardResult& r : got) {
    switch (r.ref().job_id()) {
      case 9:
        EXPECT_FALSE(r.ok());
        ASSERT_TRUE(r.has_exit_code());
        EXPECT_EQ(r.exit_code(), 42);
        EXPECT_NE(r.error().find("42"), std::string::npos) << r.error();
        break;
      case 10:
        EXPECT_TRUE(r.ok()) << r.error();
        ASSERT_TRUE(r.has_exit_code());
        EXPECT_EQ(r.exit_code(), 0);
        break;
      case 11:  // signalled: no exit code
        EXPECT_FALSE(r.ok());
        EXPECT_FALSE(r.has_exit_code());
        break;
      default:
        ADD_FAILURE() << "unexpected job " << r.ref().job_id();
    }
    EXPECT_FALSE(r.handed_back());
  }
}

TEST(ShardExecutorTest, DrainHandsBackQueuedAndNewAttemptsAtOnce) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(12, "sleep", {{"ms", "60000"}}, {{0, 1}, {1, 2}, {2, 3}}));
  WaitRunning(exec, 1);
  exec.StartDrain();
  auto got = results.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  for (const v1::ShardResult& r : got) {
    EXPECT_TRUE(r.handed_back());
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.ref().job_id(), 12u);
    EXPECT_NE(r.ref().shard(), 0u);  // shard 0 is the running one
  }
  EXPECT_EQ(exec.InFlight(), 1u);

  // Assigned while draining: straight back, without running.
  exec.Assign(Batch(13, "sleep", {{"ms", "60000"}}, {{0, 1}}));
  got = results.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].ref().job_id(), 13u);
  EXPECT_TRUE(got[2].handed_back());
  EXPECT_EQ(exec.InFlight(), 1u);

  exec.HandBackRunning();
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  got = results.all();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].ref().job_id(), 12u);
  EXPECT_EQ(got[3].ref().shard(), 0u);
  EXPECT_TRUE(got[3].handed_back());
  EXPECT_FALSE(got[3].ok());
}

TEST(ShardExecutorTest, DrainLetsARunningShardFinish) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  const std::string gate = TempPath("drain-gate");
  std::remove(gate.c_str());
  exec.Assign(CommandBatch(
      14,
      absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done; echo 7")));
  WaitRunning(exec, 1);
  exec.StartDrain();
  std::ofstream(gate) << "go\n";  // it finishes within the grace
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  auto got = results.all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].ok()) << got[0].error();
  EXPECT_FALSE(got[0].handed_back());
  EXPECT_EQ(got[0].payload(), "7\n");
  EXPECT_EQ(got[0].exit_code(), 0);
}

// Makes this process the reaper of orphaned descendants, so that "the
// process group is gone" holds when the runner returns (see
// common/process_runner.h).
class ScopedSubreaper {
 public:
  ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

// Assigns `job`: one command shard whose shell writes its pid (its process
// group's id) to the file `file_name`, then runs `script`. Returns that
// pid once written, 0 if it never was.
pid_t StartWritingPid(ShardExecutor& exec, uint64_t job,
                      const std::string& file_name, const std::string& script) {
  const std::string pid_file = TempPath(file_name);
  std::remove(pid_file.c_str());
  exec.Assign(
      CommandBatch(job, absl::StrCat("echo $$ > ", pid_file, "; ", script)));
  const std::string pid_text = WaitForLine(pid_file);
  return pid_text.empty() ? 0 : std::stoi(pid_text);
}

TEST(ShardExecutorTest, ShardOutlivingTheGraceIsHandedBackAndKilled) {
  ScopedSubreaper subreaper;
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  // The shell (its pid is the group id) and a grandchild both sleep.
  const pid_t pgid =
      StartWritingPid(exec, 15, "outlives-grace.pid", "sleep 60 & wait");
  ASSERT_NE(pgid, 0);
  ASSERT_EQ(kill(-pgid, 0), 0);

  exec.StartDrain();
  EXPECT_FALSE(exec.WaitIdle(absl::Milliseconds(50)));  // the grace ends
  exec.HandBackRunning();
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  auto got = results.all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].handed_back());
  EXPECT_FALSE(got[0].ok());
  EXPECT_FALSE(got[0].has_exit_code());
  errno = 0;
  EXPECT_EQ(kill(-pgid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

// Times the threads of this process other than the caller's went to
// sleep, from /proc/self/task/*/status.
int64_t OtherThreadsSleeps() {
  const std::string self = absl::StrCat(syscall(SYS_gettid));
  int64_t total = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    const std::string tid = entry.path().filename();
    if (tid == self) continue;
    std::ifstream status(absl::StrCat("/proc/self/task/", tid, "/status"));
    for (std::string line; std::getline(status, line);) {
      absl::string_view rest = line;
      int64_t n = 0;
      if (absl::ConsumePrefix(&rest, "voluntary_ctxt_switches:") &&
          absl::SimpleAtoi(rest, &n)) {
        total += n;
      }
    }
  }
  return total;
}

// The slot running a command shard sleeps until the child does something
// (ShardControl::WakeFd wakes it for a cancel): half a second of a quiet
// child wakes no thread (a 20 ms tick would, ~25 times), and the
// coordinator's cancel still stops the child at once.
TEST(ShardExecutorTest, QuietCommandShardWakesNoThreadAndCancelStopsIt) {
  ScopedSubreaper subreaper;
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  const pid_t pid =
      StartWritingPid(exec, 18, "quiet-command.pid", "exec sleep 1000");
  ASSERT_NE(pid, 0);
  absl::SleepFor(absl::Milliseconds(100));  // the slot is in poll() now
  const int64_t before = OtherThreadsSleeps();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_LE(OtherThreadsSleeps() - before, 3);

  v1::CancelShards cancel;
  *cancel.add_shards() = Ref(18, 0);
  exec.Cancel(cancel);
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(results.size(), 0u);
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ShardExecutorTest, CoordinatorCancelWinsOverHandBack) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(16, "sleep", {{"ms", "60000"}}, {{0, 1}}));
  WaitRunning(exec, 1);
  v1::CancelShards cancel;
  *cancel.add_shards() = Ref(16, 0);
  exec.Cancel(cancel);
  exec.HandBackRunning();
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(results.size(), 0u);
}

v1::SplitShard SplitOf(const v1::ShardRef& ref, double keep) {
  v1::SplitShard split;
  *split.mutable_ref() = ref;
  split.set_keep(keep);
  return split;
}

// Straggler splitting: a running primes shard over [0, 2^40) (minutes of
// work) is split twice; its range shrinks in Held, and its result covers
// [0, at) exactly and says so.
TEST(ShardExecutorTest, SplitStopsARunningRangeShardAndTheResultSaysWhere) {
  const uint64_t to = uint64_t{1} << 40;
  const std::map<std::string, std::string> args = {{"to", std::to_string(to)}};
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(9, "primes", args, {{0, to}}));
  WaitRunning(exec, 1);

  const v1::ShardSplit half = exec.Split(SplitOf(Ref(9, 0), 0.5));
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half.ref().job_id(), 9u);
  EXPECT_GT(half.at(), 0u);
  EXPECT_LT(half.at(), to);
  std::vector<v1::ShardTask> held = exec.HeldTasks();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].begin(), 0u);
  EXPECT_EQ(held[0].end(), half.at());

  // Keep almost nothing of the rest: the shard ends after its chunk.
  const v1::ShardSplit cut = exec.Split(SplitOf(Ref(9, 0), 1e-9));
  ASSERT_TRUE(cut.ok());
  EXPECT_LT(cut.at(), half.at());
  std::vector<v1::ShardResult> got = results.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].ok()) << got[0].error();
  EXPECT_EQ(got[0].end(), cut.at());
  absl::StatusOr<std::unique_ptr<ShardRunner>> runner = CreateShardRunner(
      "primes", KernelArgs(args.begin(), args.end()));
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_EQ(got[0].payload(), *RunWholeShard(**runner, {0, cut.at()}));

  // Finished: the attempt is gone, so a late split is refused.
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
  EXPECT_FALSE(exec.Split(SplitOf(Ref(9, 0), 0.5)).ok());
}

TEST(ShardExecutorTest, SplitIsRefusedWhereItCannotStopTheShard) {
  Results results;
  ShardExecutor exec({1, 1},
                     [&](v1::ShardResult r) { results.Add(std::move(r)); });
  // Unknown attempt: the answer names it.
  const v1::ShardSplit unknown = exec.Split(SplitOf(Ref(1, 2, 3), 0.5));
  EXPECT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.ref().shard(), 2u);
  EXPECT_EQ(unknown.ref().attempt(), 3u);

  // A kernel that does not take its range in chunks (sleep), and a command.
  exec.Assign(Batch(2, "sleep", {{"ms", "60000"}}, {{0, 1}}));
  const std::string gate = TempPath("split-refused-gate");
  std::remove(gate.c_str());
  exec.Assign(CommandBatch(
      3, absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done")));
  WaitRunning(exec, 2);
  EXPECT_FALSE(exec.Split(SplitOf(Ref(2, 0), 0.5)).ok());
  EXPECT_FALSE(exec.Split(SplitOf(Ref(3, 0), 0.5)).ok());
  std::vector<v1::ShardTask> held = exec.HeldTasks();
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].end(), 1u);  // unchanged

  // An attempt being cancelled.
  v1::CancelShards cancel;
  *cancel.add_shards() = Ref(2, 0);
  exec.Cancel(cancel);
  EXPECT_FALSE(exec.Split(SplitOf(Ref(2, 0), 0.5)).ok());
  exec.CancelAll();
  EXPECT_TRUE(exec.WaitIdle(absl::Seconds(30)));
}

}  // namespace
}  // namespace shardex
