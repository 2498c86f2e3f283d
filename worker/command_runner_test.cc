#include "worker/command_runner.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "worker/test_files.h"
#include "worker/work_dir_pool.h"

namespace shardex {
namespace {

// Shard 0 of 1 of job 7, running `spec`.
CommandShard ShardZero(const v1::CommandSpec* spec) {
  CommandShard shard;
  shard.job_id = 7;
  shard.spec = spec;
  shard.shards = 1;
  shard.task.mutable_ref()->set_job_id(7);
  shard.task.set_begin(0);
  shard.task.set_end(1);
  return shard;
}

// Runs `script` under /bin/sh as shard 0 of 1 with the given limits.
CommandShardOutcome RunScript(const std::string& script, uint64_t timeout_ms,
                              uint64_t max_output_bytes) {
  v1::CommandSpec spec;
  spec.add_argv("/bin/sh");
  spec.add_argv("-c");
  spec.add_argv(script);
  spec.set_timeout_ms(timeout_ms);
  spec.set_max_output_bytes(max_output_bytes);
  CancelFlag cancel(false);
  return RunCommandShard(ShardZero(&spec), TempPath(""), cancel);
}

TEST(CommandRunnerTest, SucceedsWithStdout) {
  CommandShardOutcome out = RunScript("echo $SHARDEX_SHARD", 0, 1000);
  ASSERT_TRUE(out.payload.ok()) << out.payload.status();
  EXPECT_EQ(*out.payload, "0\n");
  EXPECT_EQ(out.exit_code, 0);
}

TEST(CommandRunnerTest, ExitCodeAndStderrTailAreInTheError) {
  CommandShardOutcome out = RunScript("echo oops >&2; exit 3", 0, 1000);
  EXPECT_EQ(out.payload.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(out.payload.status().message(),
            "/bin/sh: exit code 3; stderr tail: oops\n");
  EXPECT_EQ(out.exit_code, 3);
}

// The runner describes its limits in its own terms; the job error still
// names the submit flag that set each one.
TEST(CommandRunnerTest, TimeoutErrorNamesTheFlag) {
  CommandShardOutcome out = RunScript("sleep 30", 300, 1000);
  EXPECT_EQ(out.payload.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(out.payload.status().message(),
            "/bin/sh: timed out after 300ms (--shard-timeout)");
  EXPECT_FALSE(out.exit_code.has_value());
}

TEST(CommandRunnerTest, OutputCapErrorNamesTheFlag) {
  CommandShardOutcome out = RunScript("head -c 2000 /dev/zero", 0, 1000);
  EXPECT_EQ(out.payload.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(out.payload.status().message(),
            "/bin/sh: stdout exceeded the output cap of 1000 bytes "
            "(--max-output)");
}

CommandShardOutcome RunWithPool(const std::string& script, WorkDirPool* pool) {
  v1::CommandSpec spec;
  for (const char* arg : {"/bin/sh", "-c"}) spec.add_argv(arg);
  spec.add_argv(script);
  spec.set_max_output_bytes(1000);
  CancelFlag cancel(false);
  return RunCommandShard(ShardZero(&spec), "/nonexistent", cancel, pool);
}

// A worker's shards take their dirs from its pool: one left empty serves
// the next shard; one left holding files goes, files and all, to the
// pool's reaper, and the next shard gets another, empty dir.
TEST(CommandRunnerTest, TakesItsWorkDirFromThePool) {
  absl::Mutex mu;
  std::vector<std::string> removed;
  std::vector<bool> had_marker;
  WorkDirPool::Options options;
  options.reaper.remove = [&](const std::string& dir) {
    struct stat st;
    absl::MutexLock lock(&mu);
    removed.push_back(dir);
    had_marker.push_back(lstat((dir + "/marker").c_str(), &st) == 0);
    return RemoveTree(dir);
  };
  ASSERT_EQ(mkdir(TempPath("pool").c_str(), 0700), 0);
  char resolved[PATH_MAX];  // as the child's pwd prints it
  ASSERT_NE(realpath(TempPath("pool").c_str(), resolved), nullptr);
  const std::string root = resolved;
  std::vector<std::string> dirs;
  {
    WorkDirPool pool(root, options);
    for (const char* script : {"pwd", "pwd; touch marker", "pwd; ls -A"}) {
      CommandShardOutcome out = RunWithPool(script, &pool);
      ASSERT_TRUE(out.payload.ok()) << out.payload.status();
      dirs.push_back(*out.payload);
    }
  }
  EXPECT_EQ(dirs[0].rfind(root + "/shard-", 0), 0u) << dirs[0];
  EXPECT_EQ(dirs[1], dirs[0]);  // reused
  EXPECT_NE(dirs[2], dirs[0]);  // not reused: it held the marker
  absl::MutexLock lock(&mu);
  ASSERT_EQ(removed.size(), 2u);  // the marker's dir, then the last, kept one
  EXPECT_EQ(removed[0] + "\n", dirs[1]);
  EXPECT_TRUE(had_marker[0]);
  struct stat st;
  EXPECT_NE(lstat(removed[0].c_str(), &st), 0);
  EXPECT_EQ(rmdir(root.c_str()), 0);  // nothing left under it
}

}  // namespace
}  // namespace shardex
