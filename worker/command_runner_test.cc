#include "worker/command_runner.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "worker/test_files.h"

namespace shardex {
namespace {

// Runs `script` under /bin/sh as shard 0 of 1 with the given limits.
CommandShardOutcome RunScript(const std::string& script, uint64_t timeout_ms,
                              uint64_t max_output_bytes) {
  v1::CommandSpec spec;
  spec.add_argv("/bin/sh");
  spec.add_argv("-c");
  spec.add_argv(script);
  spec.set_timeout_ms(timeout_ms);
  spec.set_max_output_bytes(max_output_bytes);
  CommandShard shard;
  shard.job_id = 7;
  shard.spec = &spec;
  shard.shards = 1;
  shard.task.mutable_ref()->set_job_id(7);
  shard.task.set_begin(0);
  shard.task.set_end(1);
  CancelFlag cancel(false);
  return RunCommandShard(shard, TempPath(""), cancel);
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

}  // namespace
}  // namespace shardex
