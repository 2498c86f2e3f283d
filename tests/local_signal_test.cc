// `shardex local` stopped by SIGTERM or SIGINT (Ctrl-C) while its job runs:
// it stops its workers and their shards, removes its temporary directory
// and exits with 128 + the signal's number. Real processes: the binary is
// run with a private TMPDIR, so everything it leaves behind is visible.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

// The names of the entries of `dir`; none if it cannot be read. An entry
// that goes away while listing (a process of /proc ending) is no error.
std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  return out;
}

// Live processes whose command line is exactly `cmdline` (argv joined by
// spaces).
std::vector<pid_t> ProcessesRunning(const std::string& cmdline) {
  std::vector<pid_t> out;
  for (const std::string& name : List("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string c =
        ReadFile(absl::StrCat("/proc/", name, "/cmdline")).value_or("");
    while (!c.empty() && c.back() == '\0') c.pop_back();
    std::replace(c.begin(), c.end(), '\0', ' ');
    const std::string stat =
        ReadFile(absl::StrCat("/proc/", name, "/stat")).value_or("");
    const size_t paren = stat.rfind(')');
    const bool zombie = paren != std::string::npos &&
                        stat.size() > paren + 2 && stat[paren + 2] == 'Z';
    if (c == cmdline && !zombie) out.push_back(std::stoi(name));
  }
  return out;
}

std::string Describe(const std::vector<ClusterProcess>& ps) {
  std::vector<std::string> lines;
  for (const ClusterProcess& p : ps) lines.push_back(p.Describe());
  return absl::StrJoin(lines, "\n");
}

class LocalSignalTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(TempDir(), "/local-signal-", getpid(), "-",
                        testing::UnitTest::GetInstance()->random_seed(), "-",
                        counter_++);
    tmp_ = dir_ + "/tmp";
    ASSERT_TRUE(MakeDirs(tmp_, 0755, "the test's TMPDIR").ok());
    marker_ = absl::StrCat("SHARDEX_TEST_LOCAL_SIGNAL=", dir_);
  }

  void TearDown() override {
    // Whatever the test left running (a failure), then the files.
    if (local_ != nullptr) local_->Stop(absl::Seconds(1));
    for (const ClusterProcess& p : TaggedProcesses({marker_})) {
      kill(p.pid, SIGKILL);
    }
    for (pid_t pid : ProcessesRunning(shard_cmdline_)) kill(pid, SIGKILL);
    (void)RemoveTree(dir_);
  }

  // Starts `shardex local args...` with TMPDIR=tmp_ and the marker in its
  // environment (which its workers inherit).
  void StartLocal(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "TMPDIR=" + tmp_,
                                     marker_, ShardexBinary(), "local"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess::Options opts;
    opts.stdout_file = dir_ + "/stdout";
    opts.stderr_file = dir_ + "/stderr";
    absl::StatusOr<std::unique_ptr<Subprocess>> p =
        Subprocess::Start(argv, opts);
    ASSERT_TRUE(p.ok()) << p.status();
    local_ = *std::move(p);
  }

  // Waits until `ready` holds (false after 60 s, or if local exited).
  bool WaitFor(const std::function<bool()>& ready) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!ready()) {
      if (absl::Now() > deadline || !local_->running()) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  // Sends `signo` to local and checks how it ended and what it left.
  void StopAndCheck(int signo) {
    local_->Signal(signo);
    CliRun run = CollectCliRun(*local_, absl::Seconds(60), dir_ + "/stdout",
                               dir_ + "/stderr");
    EXPECT_EQ(run.exit_code, 128 + signo) << run.err;
    EXPECT_NE(run.err.find("stopping the local cluster"), std::string::npos)
        << run.err;
    // Nothing remains: no worker, no shard process, no file.
    const std::vector<ClusterProcess> left = TaggedProcesses({marker_});
    EXPECT_TRUE(left.empty()) << Describe(left);
    EXPECT_TRUE(ProcessesRunning(shard_cmdline_).empty()) << shard_cmdline_;
    EXPECT_TRUE(List(tmp_).empty()) << absl::StrJoin(List(tmp_), " ");
  }

  static int counter_;
  std::string dir_;
  std::string tmp_;
  std::string marker_;
  std::string shard_cmdline_ = "no command shards";
  std::unique_ptr<Subprocess> local_;
};
int LocalSignalTest::counter_ = 0;

TEST_F(LocalSignalTest, SigtermDuringAKernelJobCleansUpAndExits143) {
  StartLocal({"--workers", "2", "--shards", "2", "sleep", "--ms", "60000"});
  // Both workers registered and the cluster's directory made; the job is
  // then submitted at once (a signal before that is handled too).
  ASSERT_TRUE(WaitFor([&] {
    return TaggedProcesses({marker_}).size() >= 3 && !List(tmp_).empty();
  })) << ReadFile(dir_ + "/stderr").value_or("");
  absl::SleepFor(absl::Milliseconds(300));
  StopAndCheck(SIGTERM);
}

TEST_F(LocalSignalTest, SigintDuringACommandJobStopsItsShards) {
  // A command line no other process has: `sleep 600.<pid><n>`.
  const std::string seconds = absl::StrCat("600.", getpid(), counter_);
  shard_cmdline_ = "sleep " + seconds;
  StartLocal({"--workers", "1", "--processes", "1", "--shards", "1", "--",
              "sleep", seconds});
  ASSERT_TRUE(WaitFor([&] { return !ProcessesRunning(shard_cmdline_).empty(); }))
      << ReadFile(dir_ + "/stderr").value_or("");
  StopAndCheck(SIGINT);
}

}  // namespace
}  // namespace shardex
