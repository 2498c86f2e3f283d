#include "common/file_util.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "gtest/gtest.h"

namespace shardex {
namespace {

std::string Tmp(const std::string& name) {
  const char* d = getenv("TEST_TMPDIR");
  return std::string(d ? d : "/tmp") + "/" + name;
}

TEST(FileUtilTest, WriteAtomicallyReplacesWholeFile) {
  const std::string path = Tmp("atomic.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "first version").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "v2").ok());
  EXPECT_EQ(*ReadFile(path), "v2");
}

TEST(FileUtilTest, WriteIntoMissingDirectoryFails) {
  absl::Status st = WriteFileAtomically(Tmp("no/such/dir/f"), "x");
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
}

TEST(FileUtilTest, OutputDirIsCreatedAndMustBeEmpty) {
  const std::string dir = Tmp("out/a/b");
  ASSERT_TRUE(PrepareOutputDir(dir).ok());
  ASSERT_TRUE(PrepareOutputDir(dir).ok());  // empty: fine again
  ASSERT_TRUE(WriteFileAtomically(dir + "/" + PartFileName(0), "x").ok());
  EXPECT_EQ(PrepareOutputDir(dir).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FileUtilTest, PartNamesArePadded) {
  EXPECT_EQ(PartFileName(0), "part-00000");
  EXPECT_EQ(PartFileName(42), "part-00042");
  EXPECT_EQ(PartFileName(123456), "part-123456");
}

}  // namespace
}  // namespace shardex
