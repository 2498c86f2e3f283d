#include "common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::absl::StrCat;

// Runs `request` with its stdout into a pipe; returns what it printed once
// it has exited (and been reaped), with its wait status in *status.
std::string RunAndRead(SpawnRequest request, int* status = nullptr) {
  UniqueFd out_r, out_w;
  EXPECT_TRUE(MakePipe(&out_r, &out_w).ok());
  request.stdio[1] = out_w.get();
  absl::StatusOr<SpawnResult> started = Spawn(request);
  out_w.Reset();
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return "";
  EXPECT_FALSE(started->failure.has_value()) << started->failure->Describe();
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(out_r.get(), buffer, sizeof(buffer))) > 0) {
    text.append(buffer, n);
  }
  int wait_status = 0;
  EXPECT_EQ(waitpid(started->pid, &wait_status, 0), started->pid);
  if (status != nullptr) *status = wait_status;
  return text;
}

SpawnRequest Sh(const std::string& script) {
  SpawnRequest request;
  request.program = "/bin/sh";
  request.argv = {"sh", "-c", script};
  return request;
}

// The SigIgn mask of /proc/self/status, as the exec'd program sees it.
uint64_t IgnoredMaskOfChild(bool keep_ignored_signals) {
  SpawnRequest request;
  request.program = "/bin/grep";
  request.argv = {"grep", "SigIgn", "/proc/self/status"};
  request.keep_ignored_signals = keep_ignored_signals;
  const std::string line = RunAndRead(request);  // "SigIgn:\t0000...\n"
  uint64_t mask = 0;
  const size_t tab = line.find('\t');
  EXPECT_NE(tab, std::string::npos) << line;
  EXPECT_TRUE(absl::SimpleHexAtoi(line.substr(tab + 1, 16), &mask)) << line;
  return mask;
}

class SpawnTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Every child was reaped, failed ones by Spawn itself.
    errno = 0;
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  }
};

TEST_F(SpawnTest, InheritsEnvironmentAndWorkDirByDefault) {
  setenv("SHARDEX_SPAWN_TEST", "inherited", 1);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(RunAndRead(Sh("echo $SHARDEX_SPAWN_TEST; pwd -P")),
            StrCat("inherited\n", cwd, "\n"));
  unsetenv("SHARDEX_SPAWN_TEST");
}

TEST_F(SpawnTest, GivenEnvironmentAndWorkDirReplaceOurs) {
  SpawnRequest request = Sh("echo \"[$HOME] $ONLY\"; pwd -P");
  request.env = std::map<std::string, std::string>{{"ONLY", "this"}};
  request.work_dir = "/";
  EXPECT_EQ(RunAndRead(request), "[] this\n/\n");
}

TEST_F(SpawnTest, ExecFailureComesBackWithItsErrno) {
  SpawnRequest request;
  request.program = "/nonexistent/prog";
  request.argv = {"prog"};
  absl::StatusOr<SpawnResult> started = Spawn(request);
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(started->failure.has_value());
  EXPECT_EQ(started->failure->step, SpawnStep::kExec);
  EXPECT_EQ(started->failure->err, ENOENT);
  EXPECT_EQ(started->failure->Describe(),
            "execve in the child: No such file or directory");
}

TEST_F(SpawnTest, FailureBeforeExecNamesTheStep) {
  SpawnRequest request = Sh("true");
  request.work_dir = "/nonexistent-shardex-dir";
  absl::StatusOr<SpawnResult> started = Spawn(request);
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(started->failure.has_value());
  EXPECT_EQ(started->failure->step, SpawnStep::kChdir);
  EXPECT_EQ(started->failure->Describe(),
            "chdir to the work dir in the child: No such file or directory");
}

TEST_F(SpawnTest, NewProcessGroupOnlyWhenAsked) {
  SpawnRequest own = Sh("echo $$ $(cut -d' ' -f5 /proc/$$/stat)");
  own.new_process_group = true;
  std::string ids = RunAndRead(own);
  const size_t space = ids.find(' ');
  ASSERT_NE(space, std::string::npos) << ids;
  EXPECT_EQ(ids.substr(0, space) + "\n", ids.substr(space + 1)) << ids;

  SpawnRequest shared = Sh("cut -d' ' -f5 /proc/$$/stat");
  EXPECT_EQ(RunAndRead(shared), StrCat(getpgrp(), "\n"));
}

TEST_F(SpawnTest, IgnoredSignalsAreKeptOnlyWhenAsked) {
  struct sigaction old;
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGHUP, &ignore, &old), 0);
  const uint64_t hup = uint64_t{1} << (SIGHUP - 1);
  EXPECT_EQ(IgnoredMaskOfChild(/*keep_ignored_signals=*/true) & hup, hup);
  EXPECT_EQ(IgnoredMaskOfChild(/*keep_ignored_signals=*/false) & hup, 0u);
  sigaction(SIGHUP, &old, nullptr);
}

TEST_F(SpawnTest, OtherFdsAreClosedOnlyWhenAsked) {
  const int fd = open("/dev/null", O_RDONLY);  // not close-on-exec
  ASSERT_GT(fd, STDERR_FILENO);
  const std::string script =
      StrCat("[ -e /proc/$$/fd/", fd, " ] && echo open || echo closed");
  EXPECT_EQ(RunAndRead(Sh(script)), "open\n");
  SpawnRequest closing = Sh(script);
  closing.close_other_fds = true;
  EXPECT_EQ(RunAndRead(closing), "closed\n");
  close(fd);
}

TEST_F(SpawnTest, StdioMayBeAnyDescriptor) {
  // The child's stderr is our fd 1 (for the test, a pipe), and its stdout
  // another file: the dup2() onto 1 must not clobber what goes onto 2.
  UniqueFd out_r, out_w;
  ASSERT_TRUE(MakePipe(&out_r, &out_w).ok());
  UniqueFd dev_null(open("/dev/null", O_WRONLY | O_CLOEXEC));
  const int saved_stdout = dup(STDOUT_FILENO);
  ASSERT_GE(dup2(out_w.get(), STDOUT_FILENO), 0);
  SpawnRequest request = Sh("echo lost; echo through >&2");
  request.stdio[1] = dev_null.get();
  request.stdio[2] = STDOUT_FILENO;
  absl::StatusOr<SpawnResult> started = Spawn(request);
  dup2(saved_stdout, STDOUT_FILENO);
  close(saved_stdout);
  out_w.Reset();
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_FALSE(started->failure.has_value());
  EXPECT_EQ(waitpid(started->pid, nullptr, 0), started->pid);
  char buffer[64];
  const ssize_t n = read(out_r.get(), buffer, sizeof(buffer));
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "through\n");
}

}  // namespace
}  // namespace shardex
