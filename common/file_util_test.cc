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

TEST(FileUtilTest, RemoveTreeRemovesLockedDirsButNotLinkTargets) {
  const std::string keep = Tmp("keep.txt");
  ASSERT_TRUE(WriteFileAtomically(keep, "mine").ok());
  const std::string root = Tmp("tree");
  ASSERT_TRUE(PrepareOutputDir(root + "/a/b").ok());
  ASSERT_TRUE(WriteFileAtomically(root + "/a/b/f", "x").ok());
  ASSERT_EQ(symlink(keep.c_str(), (root + "/a/link").c_str()), 0);
  ASSERT_EQ(chmod((root + "/a/b").c_str(), 0), 0);  // unreadable
  EXPECT_TRUE(RemoveTree(root).ok());
  struct stat st;
  EXPECT_NE(lstat(root.c_str(), &st), 0);
  EXPECT_EQ(*ReadFile(keep), "mine");
  EXPECT_TRUE(RemoveTree(root).ok());  // already gone: fine
}

TEST(FileUtilTest, PartNamesArePadded) {
  EXPECT_EQ(PartFileName(0), "part-00000");
  EXPECT_EQ(PartFileName(42), "part-00042");
  EXPECT_EQ(PartFileName(123456), "part-123456");
}

}  // namespace
}  // namespace shardex
