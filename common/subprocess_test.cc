#include "common/subprocess.h"

#include <signal.h>
#include <sys/wait.h>

#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(SubprocessTest, ReportsExitCode) {
  auto p = Subprocess::Start({"/bin/sh", "-c", "exit 7"}, {});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> st = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 7);
}

TEST(SubprocessTest, MissingProgramIsAnError) {
  auto p = Subprocess::Start({"/nonexistent/prog"}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("No such file"), std::string::npos)
      << p.status();
}

TEST(SubprocessTest, StopEscalatesToKill) {
  // The shell ignores SIGTERM, so only SIGKILL ends it.
  auto p = Subprocess::Start(
      {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, {});
  ASSERT_TRUE(p.ok());
  ASSERT_FALSE((*p)->Wait(absl::Milliseconds(200)).ok());  // still running
  int st = (*p)->Stop(absl::Milliseconds(200));
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
  EXPECT_FALSE((*p)->running());
}

TEST(SubprocessTest, WritesOutputFile) {
  const std::string path =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
      "/subprocess_out.txt";
  std::remove(path.c_str());
  Subprocess::Options opts;
  opts.stdout_file = path;
  opts.stderr_file = path;
  auto p = Subprocess::Start({"/bin/sh", "-c", "echo hello; echo oops >&2"},
                             opts);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->Wait(absl::Seconds(10)).ok());
  FILE* f = fopen(path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[64] = {0};
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  EXPECT_EQ(std::string(buf, n), "hello\noops\n");
}

}  // namespace
}  // namespace shardex
