#include "worker/blob_dir.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "worker/test_files.h"

namespace shardex {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class BlobDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = TempPath(absl::StrCat(
        "blob-dir-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(RemoveTree(path_).ok());
    ASSERT_TRUE(MakeDirs(path_, 0755, "test").ok());
  }
  std::string path_;
};

TEST_F(BlobDirTest, ScanKeepsConsistentPairsAndDeletesTheRest) {
  BlobDir dir(path_);
  const BlobRef good{Sha256Hex("good"), 3 * kBlobBlockBytes};
  const BlobRef no_data{Sha256Hex("no data"), 10};
  const BlobRef no_record{Sha256Hex("no record"), 10};
  const BlobRef wrong_size{Sha256Hex("wrong size"), 10};
  for (const BlobRef& b : {good, no_data, no_record, wrong_size}) {
    ASSERT_TRUE(dir.Create(b).ok());
  }
  ASSERT_TRUE(dir.WriteRecord(good.sha256, {false, true, false}).ok());
  unlink(dir.DataPath(no_data.sha256).c_str());
  unlink(dir.RecordPath(no_record.sha256).c_str());
  ASSERT_TRUE(dir.WriteRecord(wrong_size.sha256, {true, true}).ok());
  ASSERT_TRUE(WriteFileAtomically(path_ + "/stray.tmp", "x").ok());

  absl::StatusOr<std::vector<StoredBlob>> blobs = dir.Scan();
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  ASSERT_EQ(blobs->size(), 1u);
  EXPECT_EQ((*blobs)[0].blob.sha256, good.sha256);
  EXPECT_EQ((*blobs)[0].blob.size, good.size);
  EXPECT_EQ((*blobs)[0].present, std::vector<bool>({false, true, false}));
  for (const BlobRef& b : {no_data, no_record, wrong_size}) {
    EXPECT_FALSE(Exists(dir.DataPath(b.sha256))) << b.sha256;
    EXPECT_FALSE(Exists(dir.RecordPath(b.sha256))) << b.sha256;
  }
  EXPECT_FALSE(Exists(path_ + "/stray.tmp"));
}

TEST_F(BlobDirTest, DataFilesAreSparseReadOnlyAndWritableByTheCache) {
  BlobDir dir(path_);
  const BlobRef blob{Sha256Hex("x"), 5 * kBlobBlockBytes + 1};
  ASSERT_TRUE(dir.Create(blob).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.DataPath(blob.sha256).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), blob.size);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, blob.size);  // sparse
  absl::StatusOr<UniqueFd> fd = dir.OpenForWriting(blob.sha256);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(pwrite(fd->get(), "y", 1, 0), 1);
  ASSERT_EQ(stat(dir.DataPath(blob.sha256).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
}

TEST_F(BlobDirTest, OneLockHolderAtATime) {
  BlobDir dir(path_);
  absl::StatusOr<UniqueFd> first = dir.Lock();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(dir.Lock().status().code(), absl::StatusCode::kFailedPrecondition);
  first->Reset();
  EXPECT_TRUE(dir.Lock().ok());
}

}  // namespace
}  // namespace shardex
