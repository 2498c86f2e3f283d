// Staging (issue 11, docs/staging.md), limits and opting out: the
// coordinator's store cap (--max-store-bytes) and upload cap
// (--max-upload-bytes) refuse a job naming the flag, and --shared-fs submits
// paths as they are, staging nothing. The hosts, the fixture and the
// helpers: tests/staging_fixture.h.

#include <string>

#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/netns_hosts.h"
#include "tests/staging_fixture.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace staging {
namespace {

// ------------------------------------------------------------ limits

class StagingStoreQuotaTest : public StagingTest {
 protected:
  StagingStoreQuotaTest() { coordinator_flags_ = {"--max-store-bytes", "1M"}; }
};

TEST_F(StagingStoreQuotaTest, UploadPastTheStoreCapFailsNamingTheFlag) {
  // Under the cap: an exact answer.
  WriteLocalText(kD, "small.txt", 100 * 1024, 66);
  const std::string expected = ExpectedWordcount(kD, Local("small.txt"));
  CliRun small = Cli(kD, "submit", {"wordcount", Local("small.txt")});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(small.out == expected);

  WriteLocalText(kD, "large.txt", 2 * kMiB, 67);
  CliRun large = Cli(kD, "submit", {"wordcount", Local("large.txt")});
  EXPECT_EQ(large.exit_code, 2) << large.out << large.err;
  EXPECT_NE(large.err.find("--max-store-bytes"), std::string::npos)
      << large.err;
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(1, "only the small job was submitted"));
}

class StagingUploadQuotaTest : public StagingTest {
 protected:
  StagingUploadQuotaTest() {
    coordinator_flags_ = {"--max-upload-bytes", "1M"};
  }
};

TEST_F(StagingUploadQuotaTest, FileLargerThanTheUploadCapFailsNamingTheFlag) {
  WriteLocalText(kD, "large.txt", 2 * kMiB, 68);
  CliRun large = Cli(kD, "submit", {"wordcount", Local("large.txt")});
  EXPECT_EQ(large.exit_code, 2) << large.out << large.err;
  EXPECT_NE(large.err.find("--max-upload-bytes"), std::string::npos)
      << large.err;
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(0, "nothing was submitted"));

  WriteLocalText(kD, "small.txt", 100 * 1024, 69);
  const std::string expected = ExpectedWordcount(kD, Local("small.txt"));
  CliRun small = Cli(kD, "submit", {"wordcount", Local("small.txt")});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(small.out == expected);
}

// ------------------------------------------------------------ --shared-fs

TEST_F(StagingTest, SharedFsKeepsPathsAsTheyAre) {
  const std::string path = hosts_->shared_dir() + "/shared.txt";
  ASSERT_GT(WriteText(path, kMiB, 77), 0u);
  const std::string expected = ExpectedWordcount(kD, path);
  CliRun run =
      Cli(kD, "submit", {"--shared-fs", "--shards=4", "wordcount", path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(run.out == expected);
  EXPECT_FALSE(ParseStagedLine(run.err).found)
      << "--shared-fs staged files: " << run.err;
  // Nothing went to the store.
  auto stat = StatBlob(Sha256Of(path));
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_FALSE(stat->stored());
  EXPECT_EQ(stat->uploads(), 0u);
}

}  // namespace
}  // namespace staging
}  // namespace shardex
