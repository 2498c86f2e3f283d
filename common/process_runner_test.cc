#include "common/process_runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::absl::StrCat;
using ::testing::HasSubstr;
using Kind = ProcessOutcome::Kind;

std::string TestTmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  char resolved[PATH_MAX];
  // Resolved, so it compares equal to what `pwd` prints in the child.
  return realpath(dir != nullptr ? dir : "/tmp", resolved) ? resolved : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

int CountEntries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  while (const struct dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  }
  closedir(d);
  return n;
}

// True while `pid` exists and is not a zombie.
bool Running(pid_t pid) {
  const std::string stat = ReadFile(StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  return stat[paren + 2] != 'Z' && stat[paren + 2] != 'X';
}

// Waits up to 10 s for `path` to hold `lines` pids; returns them.
std::vector<pid_t> AwaitPids(const std::string& path, size_t lines) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up) {
    std::vector<pid_t> pids;
    for (absl::string_view line :
         absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
      int pid = 0;
      if (absl::SimpleAtoi(line, &pid)) pids.push_back(pid);
    }
    if (pids.size() >= lines) return pids;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return {};
}

// Makes this process a child subreaper for the scope, as a worker may be:
// then orphans of the child's group become ours, and RunProcess must reap
// them. It also makes "the group is gone" checkable at once, instead of
// whenever init gets round to reaping the zombies.
class ScopedSubreaper {
 public:
  ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~ScopedSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

// When run as root, drops this thread's power to bypass file permissions,
// so that a read-only tree really is read-only to RunProcess's cleanup.
class ScopedNoDacOverride {
 public:
  ScopedNoDacOverride() {
    header_.version = _LINUX_CAPABILITY_VERSION_3;
    if (syscall(SYS_capget, &header_, saved_) != 0) return;
    __user_cap_data_struct reduced[2] = {saved_[0], saved_[1]};
    reduced[0].effective &=
        ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    active_ = syscall(SYS_capset, &header_, reduced) == 0;
  }
  ~ScopedNoDacOverride() {
    if (active_) syscall(SYS_capset, &header_, saved_);
  }

 private:
  __user_cap_header_struct header_ = {};
  __user_cap_data_struct saved_[2] = {};
  bool active_ = false;
};

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = StrCat(TestTmpDir(), "/scratch-",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(scratch_.c_str(), 0755), 0) << strerror(errno);
  }

  void TearDown() override {
    // No zombies and no running children of ours are left...
    errno = 0;
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    // ...and every work dir is gone, whatever happened.
    EXPECT_EQ(CountEntries(scratch_), 0) << scratch_;
  }

  ProcessSpec Spec(std::vector<std::string> argv) const {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    spec.scratch_root = scratch_;
    spec.timeout = absl::Seconds(30);  // a broken runner fails, not hangs
    return spec;
  }
  ProcessSpec Sh(const std::string& script) const {
    return Spec({"/bin/sh", "-c", script});
  }

  absl::StatusOr<ProcessOutcome> Run(const ProcessSpec& spec) {
    std::atomic<bool> cancel{false};
    return RunProcess(spec, cancel);
  }

  std::string scratch_;
};

TEST_F(ProcessRunnerTest, ReportsExitCodes) {
  absl::StatusOr<ProcessOutcome> ok = Run(Sh("exit 0"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->Describe(), "exit code 0");

  absl::StatusOr<ProcessOutcome> three = Run(Sh("echo partial; exit 3"));
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->kind, Kind::kExited);
  EXPECT_EQ(three->exit_code, 3);
  EXPECT_FALSE(three->ok());
  EXPECT_EQ(three->stdout_data, "partial\n");
  EXPECT_EQ(three->Describe(), "exit code 3");
}

TEST_F(ProcessRunnerTest, ReportsDeathBySignal) {
  absl::StatusOr<ProcessOutcome> out = Run(Sh("echo dying >&2; kill -SEGV $$"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kSignaled);
  EXPECT_EQ(out->signal, SIGSEGV);
  EXPECT_FALSE(out->ok());
  EXPECT_EQ(out->stderr_tail, "dying\n");
  EXPECT_EQ(out->Describe(), "killed by signal 11 (SIGSEGV)");
}

TEST_F(ProcessRunnerTest, TimeoutKillsAndIsNamed) {
  ProcessSpec spec = Spec({"/bin/sleep", "1000"});
  spec.timeout = absl::Milliseconds(300);
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kTimedOut);
  EXPECT_FALSE(out->ok());
  EXPECT_GE(out->wall, absl::Milliseconds(300));
  EXPECT_LT(out->wall, absl::Seconds(10));
  EXPECT_EQ(out->Describe(), "timed out after 300ms");
}

TEST_F(ProcessRunnerTest, CpuLimitIsNamed) {
  ProcessSpec spec = Sh("while :; do :; done");
  spec.limits.cpu_seconds = 1;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kSignaled);
  EXPECT_EQ(out->signal, SIGXCPU);
  EXPECT_EQ(out->Describe(), "CPU time limit of 1 s exceeded (SIGXCPU)");
}

TEST_F(ProcessRunnerTest, CpuHardLimitKillIsNamed) {
  // Ignoring SIGXCPU only buys the child the second up to the hard limit.
  ProcessSpec spec = Sh("trap '' XCPU; while :; do :; done");
  spec.limits.cpu_seconds = 1;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kSignaled);
  EXPECT_EQ(out->signal, SIGKILL);
  EXPECT_EQ(out->Describe(),
            "CPU time limit of 1 s exceeded (SIGKILL at the hard limit)");
}

TEST_F(ProcessRunnerTest, FileSizeLimitIsNamed) {
  // dash runs `head` in a child of its own and exits 128+SIGXFSZ.
  ProcessSpec spec = Sh("head -c 2000000 /dev/zero > f");
  spec.limits.file_size_bytes = 1 << 20;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kExited);
  EXPECT_EQ(out->Describe(),
            "exit code 153 (a shell's 128+SIGXFSZ: file size limit of 1048576 "
            "bytes exceeded)");

  // With exec, the signal reaches us directly.
  spec = Sh("exec head -c 2000000 /dev/zero > f");
  spec.limits.file_size_bytes = 1 << 20;
  out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kSignaled);
  EXPECT_EQ(out->signal, SIGXFSZ);
  EXPECT_EQ(out->Describe(),
            "file size limit of 1048576 bytes exceeded (SIGXFSZ)");
}

TEST_F(ProcessRunnerTest, OpenFilesLimitApplies) {
  const std::string script =
      "for i in $(seq 1 20); do exec {fd}</dev/null || exit 1; done; "
      "echo opened $i";
  // Without the limit the loop works, so its failure below is the limit's.
  absl::StatusOr<ProcessOutcome> free = Run(Spec({"bash", "-c", script}));
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_TRUE(free->ok()) << free->Describe() << ": " << free->stderr_tail;
  EXPECT_EQ(free->stdout_data, "opened 20\n");

  ProcessSpec spec = Spec({"bash", "-c", script});
  spec.limits.open_files = 8;
  absl::StatusOr<ProcessOutcome> limited = Run(spec);
  ASSERT_TRUE(limited.ok()) << limited.status();
  EXPECT_EQ(limited->kind, Kind::kExited);
  EXPECT_NE(limited->exit_code, 0);
  EXPECT_EQ(limited->stdout_data, "");
}

TEST_F(ProcessRunnerTest, AddressSpaceLimitIsMentioned) {
  ProcessSpec spec = Spec({"perl", "-e", "$x = 'a' x (400*1024*1024)"});
  spec.limits.address_space_bytes = 200 << 20;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->ok());
  EXPECT_THAT(out->stderr_tail, HasSubstr("Out of memory"));
  EXPECT_THAT(out->Describe(),
              HasSubstr("(address-space limit 209715200 bytes was set)"));
}

TEST_F(ProcessRunnerTest, LimitsReachTheChildAndCoreDumpsAreOff) {
  ProcessSpec spec = Sh(
      "grep -E '^Max (cpu time|file size|core file size|open files|address "
      "space)' /proc/self/limits | tr -s ' '");
  spec.limits.address_space_bytes = 1 << 30;
  spec.limits.cpu_seconds = 5;
  spec.limits.file_size_bytes = 1 << 20;
  spec.limits.open_files = 64;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->stdout_data,
            "Max cpu time 5 6 seconds \n"  // SIGXCPU at 5 s, SIGKILL at 6 s
            "Max file size 1048576 1048576 bytes \n"
            "Max core file size 0 0 bytes \n"
            "Max open files 64 64 files \n"
            "Max address space 1073741824 1073741824 bytes \n");
}

TEST_F(ProcessRunnerTest, StdoutCapFailsTheRun) {
  ProcessSpec spec = Sh("yes | head -c 10000000");
  spec.max_output_bytes = 1 << 20;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kOutputTooLarge);
  EXPECT_EQ(out->stdout_data.size(), 1u << 20);
  EXPECT_EQ(out->Describe(),
            "stdout exceeded the output cap of 1048576 bytes");
}

TEST_F(ProcessRunnerTest, StdoutCapStopsAnEndlessWriterPromptly) {
  ProcessSpec spec = Spec({"yes"});
  spec.max_output_bytes = 1 << 20;
  spec.timeout = absl::Seconds(10);
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kOutputTooLarge);  // not kTimedOut
  EXPECT_LT(out->wall, absl::Seconds(5));
}

TEST_F(ProcessRunnerTest, StderrCapFailsTheRunAndKeepsTheTail) {
  ProcessSpec spec = Sh("yes >&2");
  spec.max_output_bytes = 64 << 10;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kOutputTooLarge);
  EXPECT_EQ(out->overflowed, "stderr");
  EXPECT_GT(out->stderr_tail.size(), 0u);
  EXPECT_LE(out->stderr_tail.size(), 4096u);
  EXPECT_EQ(out->stderr_tail.find_first_not_of("y\n"), std::string::npos);
  EXPECT_EQ(out->Describe(),
            "stderr exceeded the output cap of 65536 bytes");
}

// Tells the child's script where to write the pids of its background
// processes, outside the work dir, which will be gone.
ProcessSpec WithPidFile(ProcessSpec spec, const std::string& pid_file) {
  spec.env["PIDS"] = pid_file;
  return spec;
}

TEST_F(ProcessRunnerTest, CancelKillsTheWholeGroup) {
  ScopedSubreaper subreaper;
  const std::string pid_file = StrCat(TestTmpDir(), "/cancel.pids");
  ProcessSpec spec = WithPidFile(
      Sh("sleep 1000 & echo $! >> \"$PIDS\"; sleep 1000 & echo $! >> \"$PIDS\";"
         " wait"),
      pid_file);
  std::atomic<bool> cancel{false};
  std::vector<pid_t> sleepers;
  std::thread canceller([&] {
    sleepers = AwaitPids(pid_file, 2);
    cancel = true;
  });
  absl::StatusOr<ProcessOutcome> out = RunProcess(spec, cancel);
  canceller.join();
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(sleepers.size(), 2u);
  EXPECT_EQ(out->kind, Kind::kCancelled);
  EXPECT_EQ(out->Describe(), "cancelled");
  errno = 0;
  EXPECT_EQ(kill(-out->pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  for (pid_t pid : sleepers) {
    errno = 0;
    EXPECT_EQ(kill(pid, 0), -1) << pid;
    EXPECT_EQ(errno, ESRCH);
  }
}

// How often thread `tid` of this process has gone to sleep.
int64_t VoluntarySwitches(pid_t tid) {
  for (absl::string_view line : absl::StrSplit(
           ReadFile(StrCat("/proc/self/task/", tid, "/status")), '\n')) {
    int64_t n = 0;
    if (absl::ConsumePrefix(&line, "voluntary_ctxt_switches:") &&
        absl::SimpleAtoi(line, &n)) {
      return n;
    }
  }
  return -1;
}

// With a cancel fd the supervising thread sleeps in poll() until the
// child does something: no 20 ms tick (it would wake ~25 times in the
// half second watched), and the cancel still ends the child at once.
TEST_F(ProcessRunnerTest, QuietChildCostsNoWakeUpsAndTheCancelFdStopsIt) {
  const std::string pid_file = StrCat(TestTmpDir(), "/quiet.pids");
  ProcessSpec spec =
      WithPidFile(Sh("echo $$ >> \"$PIDS\"; exec sleep 1000"), pid_file);
  std::atomic<bool> cancel{false};
  const int cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(cancel_fd, 0);
  const pid_t runner = static_cast<pid_t>(syscall(SYS_gettid));
  int64_t wake_ups = -1;
  std::thread canceller([&] {
    AwaitPids(pid_file, 1);
    absl::SleepFor(absl::Milliseconds(50));  // into its poll()
    const int64_t before = VoluntarySwitches(runner);
    absl::SleepFor(absl::Milliseconds(500));
    wake_ups = VoluntarySwitches(runner) - before;
    cancel = true;
    eventfd_write(cancel_fd, 1);
  });
  absl::StatusOr<ProcessOutcome> out = RunProcess(spec, cancel, cancel_fd);
  canceller.join();
  close(cancel_fd);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kCancelled);
  EXPECT_GE(wake_ups, 0);
  EXPECT_LE(wake_ups, 2);
}

TEST_F(ProcessRunnerTest, CancelKillsTheGroupWithoutSubreaper) {
  // Here the killed sleepers go to init, which reaps them in its own time;
  // they must no longer be running.
  const std::string pid_file = StrCat(TestTmpDir(), "/cancel2.pids");
  ProcessSpec spec = WithPidFile(
      Sh("sleep 1000 & echo $! >> \"$PIDS\"; sleep 1000 & echo $! >> \"$PIDS\";"
         " wait"),
      pid_file);
  std::atomic<bool> cancel{false};
  std::vector<pid_t> sleepers;
  std::thread canceller([&] {
    sleepers = AwaitPids(pid_file, 2);
    cancel = true;
  });
  absl::StatusOr<ProcessOutcome> out = RunProcess(spec, cancel);
  canceller.join();
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(sleepers.size(), 2u);
  EXPECT_EQ(out->kind, Kind::kCancelled);
  // SIGKILL was sent before RunProcess returned; dying takes a moment.
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  for (pid_t pid : sleepers) {
    while (Running(pid) && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_FALSE(Running(pid)) << pid;
    kill(pid, SIGKILL);  // should the test fail, leave nothing behind
  }
}

TEST_F(ProcessRunnerTest, NormalExitStillKillsBackgroundChildren) {
  ScopedSubreaper subreaper;
  const std::string pid_file = StrCat(TestTmpDir(), "/orphan.pids");
  // The sleeper even keeps stdout open; the run must not wait for it.
  ProcessSpec spec =
      WithPidFile(Sh("sleep 1000 & echo $! >> \"$PIDS\"; echo done"), pid_file);
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe();
  EXPECT_EQ(out->stdout_data, "done\n");
  EXPECT_LT(out->wall, absl::Seconds(5));
  std::vector<pid_t> sleepers = AwaitPids(pid_file, 1);
  ASSERT_EQ(sleepers.size(), 1u);
  errno = 0;
  EXPECT_EQ(kill(sleepers[0], 0), -1);
  EXPECT_EQ(errno, ESRCH);
  errno = 0;
  EXPECT_EQ(kill(-out->pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(ProcessRunnerTest, ChildDiesWithTheWorker) {
  const std::string pid_file = StrCat(TestTmpDir(), "/pdeath.pid");
  const std::string helper_scratch = StrCat(TestTmpDir(), "/pdeath-scratch");
  mkdir(helper_scratch.c_str(), 0755);
  const pid_t worker = fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {  // stands in for a worker that dies mid-shard
    ProcessSpec spec = Sh("echo $$ > \"$PIDS\"; exec sleep 1000");
    spec.env["PIDS"] = pid_file;
    spec.scratch_root = helper_scratch;
    std::atomic<bool> never{false};
    (void)RunProcess(spec, never);
    _exit(0);
  }
  std::vector<pid_t> sleeper = AwaitPids(pid_file, 1);
  kill(worker, SIGKILL);
  waitpid(worker, nullptr, 0);
  ASSERT_EQ(sleeper.size(), 1u);
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (Running(sleeper[0]) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_FALSE(Running(sleeper[0]));
  kill(sleeper[0], SIGKILL);  // should the test fail, leave nothing behind
}

TEST_F(ProcessRunnerTest, ArgvIsPassedIntactWithoutAShell) {
  absl::StatusOr<ProcessOutcome> out =
      Run(Spec({"printf", "%s\\n", "two words", "it's", "say \"hi\"", "$HOME",
                "*", "a;b|c", "`id`", ""}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe();
  EXPECT_EQ(out->stdout_data,
            "two words\nit's\nsay \"hi\"\n$HOME\n*\na;b|c\n`id`\n\n");
}

TEST_F(ProcessRunnerTest, EnvironmentIsExactlyTheGivenMap) {
  setenv("SHARDEX_MUST_NOT_LEAK", "1", 1);
  ProcessSpec spec = Spec({"/usr/bin/env"});
  spec.env["FOO"] = "bar baz";
  spec.env["EMPTY"] = "";
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  unsetenv("SHARDEX_MUST_NOT_LEAK");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->stdout_data, "EMPTY=\nFOO=bar baz\nPATH=/usr/bin:/bin\n");
}

TEST_F(ProcessRunnerTest, NoFileDescriptorsAreInherited) {
  const int leaky = open("/dev/null", O_RDONLY);  // deliberately not CLOEXEC
  ASSERT_GE(leaky, 3);
  absl::StatusOr<ProcessOutcome> out = Run(Spec({"/bin/ls", "/proc/self/fd"}));
  close(leaky);
  ASSERT_TRUE(out.ok()) << out.status();
  // 3 is ls's own handle on the directory it lists.
  EXPECT_EQ(out->stdout_data, "0\n1\n2\n3\n");
}

TEST_F(ProcessRunnerTest, SignalsAreDefaultAndUnblocked) {
  signal(SIGINT, SIG_IGN);
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  absl::StatusOr<ProcessOutcome> out =
      Run(Spec({"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  signal(SIGINT, SIG_DFL);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->stdout_data,
            "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_F(ProcessRunnerTest, ChildLeadsItsOwnProcessGroup) {
  absl::StatusOr<ProcessOutcome> out =
      Run(Sh("echo $$; cut -d' ' -f5 /proc/$$/stat"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->pid, getpgrp());
  EXPECT_EQ(out->stdout_data, StrCat(out->pid, "\n", out->pid, "\n"));
}

TEST_F(ProcessRunnerTest, RunsInAFreshWorkDirThatIsRemoved) {
  absl::StatusOr<ProcessOutcome> first = Run(Sh("pwd; ls -A; touch left-over"));
  absl::StatusOr<ProcessOutcome> second = Run(Sh("pwd; ls -A"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->stdout_data, first->work_dir + "\n");  // empty, and cwd
  EXPECT_EQ(second->stdout_data, second->work_dir + "\n");
  EXPECT_NE(first->work_dir, second->work_dir);
  EXPECT_EQ(first->work_dir.rfind(scratch_ + "/shard-", 0), 0u);
  EXPECT_FALSE(Exists(first->work_dir));
  EXPECT_FALSE(Exists(second->work_dir));
  EXPECT_EQ(first->cleanup_error, "");
}

// Makes fresh dirs under `root` and records what RunProcess did with them.
class RecordingWorkDirs : public WorkDirSource {
 public:
  explicit RecordingWorkDirs(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<std::string> Acquire() override {
    if (!acquire_error.ok()) return acquire_error;
    absl::StatusOr<std::string> dir = MakeWorkDir(root_);
    if (dir.ok()) acquired.push_back(*dir);
    return dir;
  }
  void Release(std::string dir) override { released.push_back(dir); }

  absl::Status acquire_error;
  std::vector<std::string> acquired;
  std::vector<std::string> released;

 private:
  const std::string root_;
};

// A worker recycles work dirs: the child runs in the source's dir, which
// gets it back with what the child left in it; scratch_root is not used.
TEST_F(ProcessRunnerTest, RunsInADirFromItsSourceAndGivesItBack) {
  RecordingWorkDirs source(scratch_);
  ProcessSpec spec = Sh("pwd; touch left-over");
  spec.work_dirs = &source;
  spec.scratch_root = "/nonexistent/scratch";
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(source.acquired.size(), 1u);
  EXPECT_EQ(source.released, source.acquired);
  EXPECT_EQ(out->work_dir, source.acquired[0]);
  EXPECT_EQ(out->stdout_data, out->work_dir + "\n");
  EXPECT_TRUE(Exists(out->work_dir + "/left-over"));
  EXPECT_EQ(out->cleanup_error, "");
  ASSERT_TRUE(RemoveTree(out->work_dir).ok());
}

// Also when the child never started.
TEST_F(ProcessRunnerTest, GivesTheDirBackWhenTheStartFails) {
  RecordingWorkDirs source(scratch_);
  ProcessSpec by_path = Spec({"/nonexistent/program"});
  ProcessSpec by_name = Spec({"no-such-command-anywhere"});
  by_name.env["PATH"] = "/nonexistent";
  for (ProcessSpec* spec : {&by_path, &by_name}) {
    spec->work_dirs = &source;
    EXPECT_EQ(Run(*spec).status().code(), absl::StatusCode::kNotFound);
  }
  ASSERT_EQ(source.acquired.size(), 2u);
  EXPECT_EQ(source.released, source.acquired);
  for (const std::string& dir : source.acquired) {
    ASSERT_TRUE(RemoveTree(dir).ok());
  }
}

// Nothing to give back when there was no dir: a bad spec fails before
// Acquire, and a failed Acquire is the run's error.
TEST_F(ProcessRunnerTest, NoReleaseWithoutAnAcquiredDir) {
  RecordingWorkDirs source(scratch_);
  ProcessSpec bad = Spec({""});
  bad.work_dirs = &source;
  EXPECT_EQ(Run(bad).status().code(), absl::StatusCode::kInvalidArgument);
  source.acquire_error = absl::ResourceExhaustedError("no dirs left");
  ProcessSpec spec = Sh("echo never");
  spec.work_dirs = &source;
  EXPECT_EQ(Run(spec).status(), source.acquire_error);
  EXPECT_TRUE(source.acquired.empty());
  EXPECT_TRUE(source.released.empty());
}

TEST_F(ProcessRunnerTest, RemovesATreeTheChildMadeReadOnly) {
  ScopedNoDacOverride as_an_ordinary_user;
  absl::StatusOr<ProcessOutcome> out = Run(
      Sh("mkdir -p a/b/c && touch a/b/c/f a/g && chmod 0400 a/b/c/f a/g && "
         "chmod 0 a/b/c && chmod 0500 a/b a && chmod 0500 ."));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe() << ": " << out->stderr_tail;
  EXPECT_EQ(out->cleanup_error, "");
  EXPECT_FALSE(Exists(out->work_dir));
}

TEST_F(ProcessRunnerTest, RemovalDoesNotFollowSymlinks) {
  const std::string keep = StrCat(TestTmpDir(), "/keep");
  mkdir(keep.c_str(), 0755);
  WriteFile(keep + "/precious", "x");
  ProcessSpec spec = Sh("ln -s \"$KEEP\" link && mkdir d && "
                        "ln -s \"$KEEP/precious\" d/file-link");
  spec.env["KEEP"] = keep;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe() << ": " << out->stderr_tail;
  EXPECT_FALSE(Exists(out->work_dir));
  EXPECT_EQ(ReadFile(keep + "/precious"), "x");
}

TEST_F(ProcessRunnerTest, LargeStdinRoundTripsWithoutDeadlock) {
  // cat writes back as it reads, so neither side may block on the other.
  std::string data(10 << 20, '\0');
  std::mt19937 random(42);
  for (char& c : data) c = static_cast<char>(random());
  ProcessSpec spec = Spec({"cat"});
  spec.stdin_data = data;
  spec.max_output_bytes = 16 << 20;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe();
  EXPECT_EQ(out->stdout_data.size(), data.size());
  EXPECT_TRUE(out->stdout_data == data);
}

TEST_F(ProcessRunnerTest, ConcurrentRunsKeepTheirOwnPipes) {
  // A pipe end leaking into a sibling's child would keep our child's stdin
  // from ever reaching EOF, or mix outputs.
  constexpr int kRuns = 8;
  std::vector<absl::StatusOr<ProcessOutcome>> outs(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] {
      ProcessSpec spec = Spec({"cat"});
      spec.stdin_data = std::string(256 << 10, static_cast<char>('a' + i));
      spec.timeout = absl::Seconds(10);
      outs[i] = Run(spec);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_TRUE(outs[i].ok()) << outs[i].status();
    EXPECT_TRUE(outs[i]->ok()) << i << ": " << outs[i]->Describe();
    EXPECT_TRUE(outs[i]->stdout_data ==
                std::string(256 << 10, static_cast<char>('a' + i)))
        << i;
  }
}

TEST_F(ProcessRunnerTest, ChildThatStopsReadingStdinIsFine) {
  ProcessSpec spec = Sh("head -c 5");  // exits after 5 bytes: EPIPE for us
  spec.stdin_data = std::string(4 << 20, 'z');
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe();
  EXPECT_EQ(out->stdout_data, "zzzzz");
}

TEST_F(ProcessRunnerTest, StdinFromAFileSlice) {
  std::string file;
  for (int i = 0; i < 300000; ++i) absl::StrAppend(&file, "line ", i, "\n");
  const std::string path = StrCat(TestTmpDir(), "/input.txt");
  WriteFile(path, file);
  const uint64_t offset = file.find("line 1000\n");
  const uint64_t end = file.find("line 200000\n");

  ProcessSpec spec = Spec({"cat"});
  spec.stdin_path = path;
  spec.stdin_offset = offset;
  spec.stdin_length = end - offset;  // well over one 64 KiB chunk
  spec.max_output_bytes = 16 << 20;
  absl::StatusOr<ProcessOutcome> slice = Run(spec);
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_TRUE(slice->ok()) << slice->Describe();
  EXPECT_TRUE(slice->stdout_data == file.substr(offset, end - offset));

  spec.stdin_length = ProcessSpec::kToEndOfFile;
  absl::StatusOr<ProcessOutcome> rest = Run(spec);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_TRUE(rest->ok()) << rest->Describe();
  EXPECT_TRUE(rest->stdout_data == file.substr(offset));

  spec.stdin_length = 0;  // an empty split stays empty
  absl::StatusOr<ProcessOutcome> empty = Run(spec);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->ok()) << empty->Describe();
  EXPECT_EQ(empty->stdout_data, "");

  spec.stdin_length = file.size();  // past the end: the file changed
  absl::StatusOr<ProcessOutcome> past = Run(spec);
  EXPECT_EQ(past.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ProcessRunnerTest, ReturnsTheOutputFile) {
  absl::StatusOr<ProcessOutcome> out = Run(Sh("printf 'the result' > output"));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->output_file.has_value());
  EXPECT_EQ(*out->output_file, "the result");

  absl::StatusOr<ProcessOutcome> none = Run(Sh("true"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->output_file.has_value());

  absl::StatusOr<ProcessOutcome> failed = Run(Sh("echo x > output; exit 1"));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_FALSE(failed->output_file.has_value());

  // A link to a file outside the work dir is not followed.
  absl::StatusOr<ProcessOutcome> link = Run(Sh("ln -s /etc/hostname output"));
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_TRUE(link->ok());
  EXPECT_FALSE(link->output_file.has_value());
}

TEST_F(ProcessRunnerTest, OutputFileIsCapped) {
  ProcessSpec spec = Sh("head -c 2000 /dev/zero > output");
  spec.max_output_bytes = 1000;
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->kind, Kind::kOutputTooLarge);
  EXPECT_FALSE(out->output_file.has_value());
  EXPECT_EQ(out->Describe(),
            "output file 'output' exceeded the output cap of 1000 bytes");
}

TEST_F(ProcessRunnerTest, CommandNotFoundIsAStatus) {
  absl::StatusOr<ProcessOutcome> out = Run(Spec({"no-such-command-shardex"}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("command not found: no-such-command-shardex "
                        "(searched PATH=/usr/bin:/bin)"));

  // By path, the failure comes back from the child's execve.
  absl::StatusOr<ProcessOutcome> by_path = Run(Spec({"/nonexistent/prog"}));
  EXPECT_EQ(by_path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(by_path.status().message()),
              HasSubstr("command not found: /nonexistent/prog"));
}

TEST_F(ProcessRunnerTest, NonExecutableIsPermissionDenied) {
  const std::string path = StrCat(TestTmpDir(), "/not-executable");
  WriteFile(path, "#!/bin/sh\necho hi\n");
  chmod(path.c_str(), 0644);
  absl::StatusOr<ProcessOutcome> out = Run(Spec({path}));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kPermissionDenied)
      << out.status();
}

TEST_F(ProcessRunnerTest, LinksAppearInTheWorkDirAndOnlyTheyAreRemoved) {
  const std::string tree = StrCat(TestTmpDir(), "/linked-tree");
  ASSERT_EQ(mkdir(tree.c_str(), 0755), 0) << strerror(errno);
  const std::string prog = StrCat(tree, "/prog");
  WriteFile(prog, "#!/bin/sh\necho ran from $(pwd | sed 's,.*/,,' | cut -c1-6)\n");
  chmod(prog.c_str(), 0755);
  ProcessSpec spec = Spec({"./prog"});
  spec.links = {{"prog", prog}, {"tree", tree}};
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe() << " " << out->stderr_tail;
  EXPECT_EQ(out->stdout_data, "ran from shard-\n");
  EXPECT_TRUE(Exists(prog));  // the work dir's removal kept the target
}

// A source's dir comes back without the links RunProcess made (so a
// worker can reuse it), but with what the child left.
TEST_F(ProcessRunnerTest, LinksAreGoneWhenTheDirGoesBackToItsSource) {
  const std::string target = StrCat(TestTmpDir(), "/link-target");
  WriteFile(target, "data\n");
  RecordingWorkDirs source(scratch_);
  ProcessSpec spec = Sh("cat input; touch child-file");
  spec.work_dirs = &source;
  spec.links = {{"input", target}};
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->stdout_data, "data\n");
  ASSERT_EQ(source.released.size(), 1u);
  struct stat st;
  EXPECT_NE(lstat((out->work_dir + "/input").c_str(), &st), 0);
  EXPECT_TRUE(Exists(out->work_dir + "/child-file"));
  EXPECT_TRUE(Exists(target));
  ASSERT_TRUE(RemoveTree(out->work_dir).ok());
}

// A program the caller already found runs with argv[0] as given.
TEST_F(ProcessRunnerTest, RunsTheProgramTheCallerFound) {
  ProcessSpec spec = Spec({"not-on-any-path", "-c", "echo $0"});
  spec.env["PATH"] = "/nonexistent";
  spec.program = "/bin/sh";
  absl::StatusOr<ProcessOutcome> out = Run(spec);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->stdout_data, "not-on-any-path\n");
}

TEST(FindProgramAnywhereTest, SearchesAbsolutePathEntriesOnly) {
  const std::map<std::string, std::string> env = {
      {"PATH", "/nonexistent:/bin:/usr/bin"}};
  EXPECT_EQ(FindProgramAnywhere("sh", env), std::optional<std::string>("/bin/sh"));
  EXPECT_EQ(FindProgramAnywhere("/x/y", env), std::optional<std::string>("/x/y"));
  // The answer would depend on the work dir: each run looks.
  EXPECT_EQ(FindProgramAnywhere("./sh", env), std::nullopt);
  EXPECT_EQ(FindProgramAnywhere("sh", {{"PATH", "bin:/bin"}}), std::nullopt);
  EXPECT_EQ(FindProgramAnywhere("sh", {{"PATH", ":/bin"}}), std::nullopt);
  // Errors are RunProcess's to name.
  EXPECT_EQ(FindProgramAnywhere("no-such-program-anywhere", env), std::nullopt);
  EXPECT_EQ(FindProgramAnywhere("sh", {}), std::nullopt);
}

TEST_F(ProcessRunnerTest, RejectsBadLinkNames) {
  for (const char* name : {"", "a/b", "..", "output"}) {
    ProcessSpec spec = Sh("true");
    spec.links = {{name, "/bin"}};
    EXPECT_EQ(Run(spec).status().code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
  ProcessSpec twice = Sh("true");
  twice.links = {{"x", "/bin"}, {"x", "/usr"}};
  EXPECT_EQ(Run(twice).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shardex
