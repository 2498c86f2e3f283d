// deploy/slurm/shardex.sbatch against a real Slurm (slurm_bed.h): a job on
// two nodes with an exact answer, and a time limit that drains the workers,
// stops the coordinator with the job in its journal, and a second
// allocation that resumes it. Root only; skipped otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "deploy/slurm/slurm_bed.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

// The script as Bazel ships it to the test.
std::string SbatchScript() {
  const char* dir = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  return absl::StrCat(dir != nullptr ? dir : ".", "/",
                      ws != nullptr ? ws : "_main",
                      "/deploy/slurm/shardex.sbatch");
}

std::string ReadOrEmpty(const std::string& path) {
  return ReadFile(path).value_or("");
}

// The lines of `text` that are exactly `line`.
bool HasLine(const std::string& text, const std::string& line) {
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (absl::StripAsciiWhitespace(l) == line) return true;
  }
  return false;
}

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status st = SlurmBed::Available(); !st.ok()) {
      GTEST_SKIP() << st.message();
    }
    absl::StatusOr<std::unique_ptr<SlurmBed>> bed = SlurmBed::Start();
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = std::move(bed).value();
    dir_ = bed_->shared_dir();
  }

  void TearDown() override {
    if (bed_ == nullptr) return;
    if (HasFailure()) std::cerr << bed_->DaemonLogs();
    absl::Status st = bed_->Destroy();
    EXPECT_TRUE(st.ok()) << st;
  }

  // `sbatch --wait -N 2` the script with `args` from the shared directory;
  // returns the Slurm job id (0 if none) and sets `run`.
  int Sbatch(const std::vector<std::string>& sbatch_flags,
             const std::vector<std::string>& args,
             const std::vector<std::string>& env, CliRun* run) {
    std::vector<std::string> argv = {
        "/usr/bin/sbatch",     "--wait", "-N", "2", "-D", dir_, "-o",
        dir_ + "/slurm-%j.out"};
    argv.insert(argv.end(), sbatch_flags.begin(), sbatch_flags.end());
    argv.push_back(SbatchScript());
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> all_env = {"SHARDEX=" + ShardexBinary()};
    all_env.insert(all_env.end(), env.begin(), env.end());
    const absl::Time start = absl::Now();
    *run = bed_->OnController(argv, all_env, absl::Seconds(150));
    std::cerr << "sbatch took " << absl::Now() - start << ", exit "
              << run->exit_code << "\n";
    int job = 0;
    std::string out(absl::StripAsciiWhitespace(run->out));
    (void)absl::SimpleAtoi(absl::StripPrefix(out, "Submitted batch job "),
                           &job);
    std::cerr << "--- job " << job << "'s output\n" << JobOutput(job);
    return job;
  }

  std::string JobOutput(int job) const {
    return ReadOrEmpty(absl::StrCat(dir_, "/slurm-", job, ".out"));
  }
  std::string JobFile(int job, const std::string& name) const {
    return ReadOrEmpty(absl::StrCat(dir_, "/shardex-job-", job, "/", name));
  }

  // No shardex process of the bed's jobs is left.
  void ExpectNoShardexLeft() {
    for (const ClusterProcess& p : TaggedProcesses({bed_->tag()})) {
      EXPECT_FALSE(absl::StrContains(p.cmdline, "shardex"))
          << "left behind: " << p.Describe();
    }
  }

  std::unique_ptr<SlurmBed> bed_;
  std::string dir_;
};

TEST_F(SlurmTest, PrimesOnTwoNodes) {
  CliRun run;
  const int job = Sbatch({}, {"primes", "--to", "1e7"}, {}, &run);
  ASSERT_GT(job, 0) << run.out << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const std::string out = JobOutput(job);
  EXPECT_TRUE(HasLine(out, "664579")) << out;
  EXPECT_TRUE(absl::StrContains(out, "2 of 2 workers registered")) << out;
  EXPECT_TRUE(absl::StrContains(out, "coordinator stopped")) << out;

  // A worker on each node, each using the node's 2 CPUs, each drained.
  const std::string workers = JobFile(job, "workers");
  EXPECT_TRUE(absl::StrContains(workers, " b ")) << workers;
  EXPECT_TRUE(absl::StrContains(workers, " c ")) << workers;
  for (const char* node : {"b", "c"}) {
    const std::string log = JobFile(job, absl::StrCat("worker-", node, ".log"));
    EXPECT_TRUE(absl::StrContains(log, "with 2 threads and 2 process slots"))
        << node << ":\n"
        << log;
    EXPECT_TRUE(absl::StrContains(log, "drained: every shard finished"))
        << node << ":\n"
        << log;
  }
  // The address file names node b's address; the token file is private.
  EXPECT_TRUE(absl::StartsWith(JobFile(job, "coordinator"), "10.200.77.2:"));
  struct stat st;
  ASSERT_EQ(
      stat(absl::StrCat(dir_, "/shardex-job-", job, "/worker.token").c_str(),
           &st),
      0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ExpectNoShardexLeft();
}

// The real time limit: --time=1 with --signal=B:TERM@20. slurmctld checks
// limits every 30 s and sends the signal at the first check within 20 s +
// 30 s of the end, so 10 to 40 s after the start, while the job's shards
// (sleeping 300 s) run. Then a second allocation resumes the job from the
// journal, its shards now quick (the flag file exists), exactly.
TEST_F(SlurmTest, TimeLimitDrainsAndResumes) {
  const std::string flag = dir_ + "/fast";
  const std::vector<std::string> job_args = {
      "--range",
      "0:8",
      "--shards",
      "8",
      "--reduce",
      "sum",
      "--",
      "sh",
      "-c",
      absl::StrCat("test -e ", flag, " || sleep 300; echo {begin}")};
  CliRun run;
  const int first = Sbatch({"--time=1", "--signal=B:TERM@20"}, job_args,
                           {"SHARDEX_DRAIN_TIMEOUT=3s"}, &run);
  ASSERT_GT(first, 0) << run.out << run.err;
  EXPECT_NE(run.exit_code, 0);  // the job did not finish
  const std::string out = JobOutput(first);
  EXPECT_TRUE(absl::StrContains(out, "SIGTERM: the time limit is near")) << out;
  EXPECT_TRUE(absl::StrContains(out, "keeps job(s) 1;")) << out;
  EXPECT_TRUE(absl::StrContains(out, "coordinator stopped")) << out;
  for (const char* node : {"b", "c"}) {
    const std::string log =
        JobFile(first, absl::StrCat("worker-", node, ".log"));
    std::cerr << "--- worker-" << node << ".log\n" << log;
    EXPECT_TRUE(absl::StrContains(log, "draining for up to 3s"))
        << node << ":\n"
        << log;
    EXPECT_TRUE(absl::StrContains(log,
                                  "drained: every shard finished or was "
                                  "handed back"))
        << node << ":\n"
        << log;
  }
  const std::string coordinator_log = JobFile(first, "coordinator.log");
  std::cerr << "--- coordinator.log\n" << coordinator_log;
  EXPECT_TRUE(absl::StrContains(coordinator_log, "shutting down"));
  ExpectNoShardexLeft();

  // Resume: the same state directory (the default beside the submit
  // directory), job 1 of the journal.
  ASSERT_TRUE(WriteFileAtomically(flag, "").ok());
  const int second = Sbatch({}, {"--resume", "1"}, {}, &run);
  ASSERT_GT(second, 0) << run.out << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const std::string resumed = JobOutput(second);
  EXPECT_TRUE(HasLine(resumed, "28")) << resumed;  // 0 + 1 + ... + 7
  // Handed-back shards are not failures.
  EXPECT_TRUE(absl::StrContains(resumed, "8/8 shards")) << resumed;
  EXPECT_TRUE(absl::StrContains(resumed, "(0 retries)")) << resumed;
  ExpectNoShardexLeft();
}

}  // namespace
}  // namespace shardex
