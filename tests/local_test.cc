// `shardex local`: the quick start's cluster-in-one-command path.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

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

// A command job's limits given to a kernel job are a usage error naming the
// flag, through the real command line of `local` and `submit`, before any
// process starts or any coordinator is dialled.
TEST(LocalTest, CommandLimitOnAKernelJobIsAUsageError) {
  CliRun local = RunCli({"local", "--workers", "1", "primes", "--to", "100",
                         "--max-memory", "1G"});
  EXPECT_EQ(local.exit_code, 2) << local.err;
  EXPECT_NE(local.err.find("shardex: --max-memory applies to command jobs "
                           "only"),
            std::string::npos)
      << local.err;
  EXPECT_TRUE(local.out.empty()) << local.out;
  CliRun submit = RunCli({"submit", "--coordinator", "127.0.0.1:1",
                          "--max-cpu", "5", "primes", "--to", "100"});
  EXPECT_EQ(submit.exit_code, 2) << submit.err;
  EXPECT_NE(submit.err.find("--max-cpu applies to command jobs only"),
            std::string::npos)
      << submit.err;
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

namespace shardex {
namespace {

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(LocalKernelsTest, HashsearchIsTheSameForOneAndTwoWorkers) {
  CliRun one = RunCli({"local", "--workers", "1", "hashsearch", "--prefix",
                       "shardex", "--bits", "18"});
  CliRun two = RunCli({"local", "--workers", "2", "hashsearch", "--prefix",
                       "shardex", "--bits", "18"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(one.out, two.out);
  // The answer really has 18 leading zero bits: check with openssl's CLI.
  const std::string nonce(absl::StripAsciiWhitespace(one.out));
  const std::string hex = Shell("printf '%s' 'shardex" + nonce +
                                "' | openssl dgst -sha256 -r | cut -c1-5");
  EXPECT_EQ(hex.substr(0, 4), "0000") << hex;  // 16 of the 18 bits
  EXPECT_LE(hex[4], '3') << hex;               // and 2 more
}

TEST(LocalKernelsTest, MandelbrotWritesAPngOfTheAskedSize) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string out = std::string(tmp ? tmp : "/tmp") + "/m.png";
  CliRun run = RunCli({"local", "--workers", "2", "mandelbrot", "--width",
                       "300", "--height", "200", "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  FILE* f = fopen(out.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  unsigned char h[24];
  ASSERT_EQ(fread(h, 1, 24, f), 24u);
  fclose(f);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h) + 1, 3), "PNG");
  const uint32_t w = h[16] << 24 | h[17] << 16 | h[18] << 8 | h[19];
  const uint32_t ht = h[20] << 24 | h[21] << 16 | h[22] << 8 | h[23];
  EXPECT_EQ(w, 300u);
  EXPECT_EQ(ht, 200u);
}

TEST(LocalKernelsTest, WordcountAndGrepEqualCoreutilsOnTwoWorkers) {
  const std::string file = "/usr/share/common-licenses/GPL-3";
  CliRun wc = RunCli({"local", "--workers", "2", "--shards", "17",
                      "wordcount", file});
  ASSERT_EQ(wc.exit_code, 0) << wc.err;
  const std::string expected = Shell(
      "LC_ALL=C tr -s '[:space:]' '\\n' < " + file +
      " | grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c | "
      "awk '{print $1\" \"$2}'");
  EXPECT_TRUE(wc.out == expected)
      << wc.out.size() << " vs " << expected.size() << " bytes";
  CliRun grep = RunCli({"local", "--workers", "2", "--shards", "3", "grep",
                        "(GNU|Free) Software", file});
  ASSERT_EQ(grep.exit_code, 0) << grep.err;
  EXPECT_EQ(grep.out, Shell("grep -E '(GNU|Free) Software' " + file));
}

// Two command shards that each wait (up to `patience` tenths of a second)
// until both have started: they finish only if they run at once.
CliRun RunTwoShardsThatMeet(const std::string& processes, int patience) {
  const std::string dir = absl::StrCat(testing::TempDir(), "/meet-",
                                       processes, "-", patience);
  mkdir(dir.c_str(), 0700);
  return RunCli(
      {"local", "--workers", "1", "--processes", processes, "--shards", "2",
       "--reduce", "sum", "--no-retry-exit", "3", "--shell", "--",
       absl::StrCat("touch ", dir, "/{shard}; i=0; while [ $(ls ", dir,
                    " | wc -l) -lt 2 ]; do i=$((i+1)); [ $i -gt ", patience,
                    " ] && exit 3; sleep 0.1; done; echo 1")});
}

// `local --processes 2` runs two command shards at once on one worker;
// with one process the second never starts while the first waits.
TEST(LocalTest, ProcessesRunCommandShardsAtOnce) {
  CliRun two = RunTwoShardsThatMeet("2", 600);
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(absl::StripAsciiWhitespace(two.out), "2");
  CliRun one = RunTwoShardsThatMeet("1", 20);
  EXPECT_NE(one.exit_code, 0) << one.out;
}

}  // namespace
}  // namespace shardex
