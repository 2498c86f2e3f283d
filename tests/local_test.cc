// `shardex local`: the quick start's cluster-in-one-command path.
#include <dirent.h>
#include <signal.h>

#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

TEST(LocalTest, RunsPrimesOnTwoWorkerProcesses) {
  CliRun run = RunCli({"local", "--workers", "2", "primes", "--to",
                       "10000000000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(absl::StripAsciiWhitespace(run.out), "455052511");
}

TEST(LocalTest, BadJobFailsBeforeStartingAnything) {
  CliRun run = RunCli({"local", "--workers", "2", "primes", "--from", "9",
                       "--to", "3"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("--from"), std::string::npos) << run.err;
}

TEST(LocalTest, PiMatchesAClusterOfOne) {
  CliRun three = RunCli({"local", "--workers", "3", "pi", "--samples",
                         "10000000", "--seed", "5"});
  CliRun one = RunCli({"local", "--workers", "1", "--shards", "3", "pi",
                       "--samples", "10000000", "--seed", "5"});
  ASSERT_EQ(three.exit_code, 0) << three.err;
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(three.out, one.out);
}

}  // namespace
}  // namespace shardex
