#include "coordinator/blob_store.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/blob_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl + "/store";
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    (void)RemoveTree(dir_.substr(0, dir_.size() - 6));
  }
  void Reopen(BlobStoreLimits limits = {}) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<BlobStore>> s =
        BlobStore::Open(dir_, limits, &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  // Uploads `data` whole; returns the status of Finish.
  absl::Status Upload(const std::string& data) {
    absl::StatusOr<std::unique_ptr<BlobUpload>> up =
        store_->BeginUpload(Sha256Hex(data), data.size(), 0);
    if (!up.ok()) return up.status();
    if (absl::Status st = (*up)->Append(data); !st.ok()) return st;
    return (*up)->Finish();
  }
  std::string ReadAll(const std::string& sha,
                      std::vector<std::string>* hashes = nullptr) {
    std::string all;
    absl::Status st =
        store_->ReadBlocks(sha, 0, 0, [&](const BlobBlockData& b) {
          EXPECT_EQ(b.offset, all.size());
          all += b.data;
          if (hashes != nullptr) hashes->push_back(b.sha256_raw);
          return true;
        });
    EXPECT_TRUE(st.ok()) << st;
    return all;
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, UploadThenReadBlocksWithTheirHashes) {
  const std::string data = Bytes(2 * kBlobBlockBytes + 100, 'a');
  const std::string sha = Sha256Hex(data);
  ASSERT_TRUE(Upload(data).ok());
  absl::StatusOr<BlobStat> info = store_->Stat(sha);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->stored);
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->uploads, 1u);
  std::vector<std::string> hashes;
  EXPECT_EQ(ReadAll(sha, &hashes), data);
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes[0], Sha256Raw(data.substr(0, kBlobBlockBytes)));
  EXPECT_EQ(hashes[2], Sha256Raw(data.substr(2 * kBlobBlockBytes)));
  EXPECT_EQ(store_->Stat(sha)->served_bytes, data.size());
  // The stored file is read-only.
  struct stat st;
  ASSERT_EQ(stat(store_->PathOf(sha).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
}

TEST_F(BlobStoreTest, ReadsARangeOfWholeBlocks) {
  const std::string data = Bytes(3 * kBlobBlockBytes + 5, 'r');
  const std::string sha = Sha256Hex(data);
  ASSERT_TRUE(Upload(data).ok());
  std::vector<uint64_t> offsets;
  ASSERT_TRUE(store_
                  ->ReadBlocks(sha, kBlobBlockBytes, 10,
                               [&](const BlobBlockData& b) {
                                 offsets.push_back(b.offset);
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(offsets, std::vector<uint64_t>{kBlobBlockBytes});
  EXPECT_EQ(store_->OpenReader(sha, 5, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->OpenReader(sha, 8 * kBlobBlockBytes, 0).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->OpenReader(Sha256Hex("other"), 0, 0).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BlobStoreTest, ResumesAnInterruptedUploadAcrossARestart) {
  const std::string data = Bytes(kBlobBlockBytes + 1000, 'z');
  const std::string sha = Sha256Hex(data);
  {
    auto up = store_->BeginUpload(sha, data.size(), 0);
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Append(data.substr(0, 700)).ok());
    EXPECT_EQ((*up)->Finish().code(), absl::StatusCode::kFailedPrecondition);
  }  // the stream broke
  Reopen();
  EXPECT_FALSE(store_->Stat(sha)->stored);
  EXPECT_EQ(store_->Stat(sha)->received_bytes, 700u);
  // Only at the partial copy's end (or 0).
  EXPECT_EQ(store_->BeginUpload(sha, data.size(), 500).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto up = store_->BeginUpload(sha, data.size(), 700);
  ASSERT_TRUE(up.ok()) << up.status();
  // One upload of a blob at a time.
  EXPECT_EQ(store_->BeginUpload(sha, data.size(), 700).status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*up)->Append(data.substr(700)).ok());
  ASSERT_TRUE((*up)->Finish().ok());
  EXPECT_EQ(ReadAll(sha), data);
  // A stored blob needs no upload: the upload is complete at once.
  auto again = store_->BeginUpload(sha, data.size(), 0);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->complete());
}

TEST_F(BlobStoreTest, ReopenFindsCompleteBlobs) {
  const std::string data = Bytes(5000, 'q');
  ASSERT_TRUE(Upload(data).ok());
  Reopen();
  EXPECT_TRUE(store_->IsStored(Sha256Hex(data)));
  EXPECT_EQ(store_->used_bytes(), data.size());
  EXPECT_EQ(ReadAll(Sha256Hex(data)), data);
}

TEST_F(BlobStoreTest, HashMismatchIsRefusedAndThePartialDiscarded) {
  const std::string data = Bytes(3000, 'm');
  const std::string claimed = Sha256Hex("something else");
  auto up = store_->BeginUpload(claimed, data.size(), 0);
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Append(data).ok());
  absl::Status st = (*up)->Finish();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(st.message(), HasSubstr("another SHA-256"));
  EXPECT_FALSE(store_->IsStored(claimed));
  EXPECT_EQ(store_->Stat(claimed)->received_bytes, 0u);
  EXPECT_EQ(store_->used_bytes(), 0u);
  struct stat s;
  EXPECT_NE(stat((dir_ + "/partial/" + claimed).c_str(), &s), 0);
}

TEST_F(BlobStoreTest, MoreThanTheAnnouncedSizeIsRefused) {
  const std::string data = Bytes(100, 'x');
  auto up = store_->BeginUpload(Sha256Hex(data), 50, 0);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->Append(data).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->used_bytes(), 0u);
}

TEST_F(BlobStoreTest, BadNamesAreRefused) {
  for (const std::string& name : std::vector<std::string>{
           "../etc/passwd", "", std::string(64, 'A'), std::string(63, 'a'),
           std::string(64, 'a') + "/x"}) {
    EXPECT_EQ(store_->Stat(name).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
    EXPECT_EQ(store_->BeginUpload(name, 1, 0).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->OpenReader(name, 0, 0).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->PathOf(name), "");
  }
}

TEST_F(BlobStoreTest, UploadLargerThanTheFileLimitNamesTheFlag) {
  Reopen({/*max_store_bytes=*/1 << 20, /*max_upload_bytes=*/1000});
  absl::Status st = store_->BeginUpload(Sha256Hex("x"), 1001, 0).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("--max-upload-bytes"));
  EXPECT_THAT(st.message(), HasSubstr("1001"));
}

TEST_F(BlobStoreTest, StoreLimitCountsPartialsAndCollectsFirst) {
  Reopen({/*max_store_bytes=*/3000, /*max_upload_bytes=*/3000});
  const std::string old_blob = Bytes(2000, 'o');
  ASSERT_TRUE(Upload(old_blob).ok());
  // A running upload's announced size counts too.
  auto running = store_->BeginUpload(Sha256Hex(Bytes(900, 'p')), 900, 0);
  ASSERT_TRUE(running.ok());
  const std::string next = Bytes(500, 'n');
  absl::Status st = store_->BeginUpload(Sha256Hex(next), 500, 0).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("--max-store-bytes"));
  EXPECT_THAT(st.message(), HasSubstr("3000"));
  // Once the old blob may be collected, the upload makes room for itself.
  clock_.Advance(BlobStore::kCollectGrace);
  EXPECT_TRUE(store_->BeginUpload(Sha256Hex(next), 500, 0).ok());
  EXPECT_FALSE(store_->IsStored(Sha256Hex(old_blob)));
}

TEST_F(BlobStoreTest, CollectKeepsPinnedAndRecentBlobs) {
  const std::string pinned = Bytes(100, '1');
  const std::string loose = Bytes(100, '2');
  ASSERT_TRUE(Upload(pinned).ok());
  ASSERT_TRUE(Upload(loose).ok());
  store_->Pin(7, {Sha256Hex(pinned)});
  EXPECT_EQ(store_->Collect(), 0u);  // both recent
  clock_.Advance(BlobStore::kCollectGrace);
  const std::string recent = Bytes(100, '3');
  ASSERT_TRUE(Upload(recent).ok());
  EXPECT_EQ(store_->Collect(), 100u);
  EXPECT_TRUE(store_->IsStored(Sha256Hex(pinned)));
  EXPECT_FALSE(store_->IsStored(Sha256Hex(loose)));
  EXPECT_TRUE(store_->IsStored(Sha256Hex(recent)));
  store_->Unpin(7);
  clock_.Advance(BlobStore::kCollectGrace);
  EXPECT_EQ(store_->Collect(), 200u);
  EXPECT_EQ(store_->used_bytes(), 0u);
  EXPECT_FALSE(store_->IsStored(Sha256Hex(pinned)));
  // Sent again after it was collected: the second upload is counted.
  ASSERT_TRUE(Upload(loose).ok());
  EXPECT_EQ(store_->Stat(Sha256Hex(loose))->uploads, 2u);
}

TEST_F(BlobStoreTest, CollectRemovesIdlePartials) {
  const std::string data = Bytes(1000, 'i');
  {
    auto up = store_->BeginUpload(Sha256Hex(data), data.size(), 0);
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Append(data.substr(0, 10)).ok());
  }
  EXPECT_EQ(store_->Collect(), 0u);
  clock_.Advance(BlobStore::kCollectGrace);
  EXPECT_EQ(store_->Collect(), 10u);
  EXPECT_EQ(store_->Stat(Sha256Hex(data))->received_bytes, 0u);
}

TEST_F(BlobStoreTest, EmptyBlob) {
  ASSERT_TRUE(Upload("").ok());
  EXPECT_TRUE(store_->IsStored(Sha256Hex("")));
  EXPECT_EQ(ReadAll(Sha256Hex("")), "");
  Reopen();
  EXPECT_TRUE(store_->IsStored(Sha256Hex("")));
}

}  // namespace
}  // namespace shardex
