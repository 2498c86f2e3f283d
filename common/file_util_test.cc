#include "common/file_util.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

TEST(FileUtilTest, MakeDirsCreatesParentsWithModeAndNamesTheFailure) {
  const std::string dir = Tmp("mk/x/y");
  ASSERT_TRUE(MakeDirs(dir, 0700, "state directory").ok());
  ASSERT_TRUE(MakeDirs(dir, 0700, "state directory").ok());  // exists: fine
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(WriteFileAtomically(Tmp("mk/file"), "x").ok());
  absl::Status st2 = MakeDirs(Tmp("mk/file/sub"), 0755, "--output");
  EXPECT_FALSE(st2.ok());
  EXPECT_NE(st2.message().find("--output: cannot create"), std::string::npos)
      << st2;
}

// Relative to the cwd as given, absolute as returned: the child resolves
// paths after its chdir into it.
TEST(FileUtilTest, MakeWorkDirMakesAFreshPrivateDirWithAnAbsolutePath) {
  ASSERT_TRUE(MakeDirs(Tmp("scratch"), 0755, "test").ok());
  char saved[PATH_MAX];
  ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
  ASSERT_EQ(chdir(Tmp("").c_str()), 0);
  absl::StatusOr<std::string> a = MakeWorkDir("scratch");
  absl::StatusOr<std::string> b = MakeWorkDir("scratch");
  ASSERT_EQ(chdir(saved), 0);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(*a, *b);
  ASSERT_EQ((*a)[0], '/') << *a;
  EXPECT_NE(a->find("/scratch/shard-"), std::string::npos) << *a;
  struct stat st;
  ASSERT_EQ(lstat(a->c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(PrepareOutputDir(*a).ok());  // empty
}

TEST(FileUtilTest, MakeWorkDirNamesAMissingRoot) {
  absl::StatusOr<std::string> dir = MakeWorkDir(Tmp("no-such-root"));
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(dir.status().message().find("no-such-root"), std::string::npos)
      << dir.status();
}

TEST(FileUtilTest, TempDirFollowsTmpdir) {
  const char* old = getenv("TMPDIR");
  const std::string saved = old != nullptr ? old : "";
  setenv("TMPDIR", "/some/where", 1);
  EXPECT_EQ(TempDir(), "/some/where");
  setenv("TMPDIR", "", 1);
  EXPECT_EQ(TempDir(), "/tmp");
  unsetenv("TMPDIR");
  EXPECT_EQ(TempDir(), "/tmp");
  if (old != nullptr) setenv("TMPDIR", saved.c_str(), 1);
}

TEST(FileUtilTest, PartNamesArePadded) {
  EXPECT_EQ(PartFileName(0), "part-00000");
  EXPECT_EQ(PartFileName(42), "part-00042");
  EXPECT_EQ(PartFileName(123456), "part-123456");
  EXPECT_EQ(RangePartFileName(2500, 5000, 1000000), "part-0002500-0005000");
  EXPECT_EQ(RangePartFileName(0, 7, 7), "part-0-7");
  // Sorted by name is sorted by range.
  EXPECT_LT(RangePartFileName(999, 1000, 100000),
            RangePartFileName(1000, 2000, 100000));
}

}  // namespace
}  // namespace shardex
