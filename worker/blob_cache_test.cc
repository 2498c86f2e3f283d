#include "worker/blob_cache.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/fake_blob_fetcher.h"
#include "worker/test_files.h"

namespace shardex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kB = kBlobBlockBytes;

// `blocks` blocks of lines of 100 bytes ("...\n"), plus `tail` bytes.
std::string Lines(uint64_t blocks, uint64_t tail = 0) {
  std::string s;
  const uint64_t n = blocks * kB + tail;
  s.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    s.push_back(i % 100 == 99 ? '\n' : static_cast<char>('a' + i % 26));
  }
  return s;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class BlobCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempPath(absl::StrCat(
        "cache-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(RemoveTree(dir_).ok());
    Reopen(uint64_t{10} << 30);
  }

  void Reopen(uint64_t max_bytes) {
    cache_.reset();  // releases the directory's lock first
    absl::StatusOr<std::unique_ptr<BlobCache>> cache =
        BlobCache::Open({dir_, max_bytes}, &fetcher_);
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = *std::move(cache);
  }

  // Bytes [at, at + n) of the blob's data file.
  std::string Cached(const BlobRef& blob, uint64_t at, uint64_t n) {
    absl::StatusOr<std::string> data = ReadFile(cache_->DataPath(blob.sha256));
    if (!data.ok()) return "";
    return data->substr(at, n);
  }

  std::string dir_;
  FakeBlobFetcher fetcher_;
  std::unique_ptr<BlobCache> cache_;
};

TEST_F(BlobCacheTest, LineRangeFetchesOnlyTheBlocksTheShardReads) {
  const std::string content = Lines(5);
  const BlobRef blob = fetcher_.Put(content);
  // Reads byte 2.5 MiB - 1 (block 2) through 3.2 MiB (block 3); lines end
  // every 100 bytes, so block 3 holds the last line's '\n'.
  ASSERT_TRUE(cache_->EnsureLineRange(blob, 5 * kB / 2, 16 * kB / 5).ok());
  EXPECT_THAT(fetcher_.fetched(), ElementsAre(2, 3));
  EXPECT_EQ(fetcher_.calls(), 1);  // one run, one fetch
  EXPECT_EQ(Cached(blob, 2 * kB, 2 * kB), content.substr(2 * kB, 2 * kB));
  EXPECT_EQ(cache_->stats().bytes_fetched, 2 * kB);

  // The same range again: served from the cache.
  fetcher_.ResetCounts();
  ASSERT_TRUE(cache_->EnsureLineRange(blob, 5 * kB / 2, 16 * kB / 5).ok());
  EXPECT_EQ(fetcher_.calls(), 0);
  EXPECT_EQ(cache_->stats().blocks_from_cache, 2u);
}

TEST_F(BlobCacheTest, ExtendsToTheNextNewlineAcrossBlocks) {
  // One line of 2 MiB + 10 bytes, then short lines; four blocks.
  std::string content(2 * kB + 10, 'x');
  content.back() = '\n';
  content += Lines(2).substr(0, 4 * kB - content.size());
  const BlobRef blob = fetcher_.Put(content);
  ASSERT_TRUE(cache_->EnsureLineRange(blob, 0, 100).ok());
  EXPECT_THAT(fetcher_.fetched(), ElementsAre(0, 1, 2));

  // A shard starting inside that line reads byte begin-1 and on to it too,
  // all present now.
  fetcher_.ResetCounts();
  ASSERT_TRUE(cache_->EnsureLineRange(blob, kB + 5, kB + 50).ok());
  EXPECT_EQ(fetcher_.calls(), 0);
}

TEST_F(BlobCacheTest, ANewlineEndingTheRangeNeedsNoMoreBlocks) {
  // Byte end-1 (the last of block 0) is a '\n': block 1 is read for byte
  // `end` only, and nothing past it.
  std::string content(kB - 1, 'y');
  content += '\n';
  content += std::string(3 * kB, 'z');
  const BlobRef blob = fetcher_.Put(content);
  ASSERT_TRUE(cache_->EnsureLineRange(blob, 10, kB).ok());
  EXPECT_THAT(fetcher_.fetched(), ElementsAre(0, 1));
}

TEST_F(BlobCacheTest, LastLineWithoutNewlineEndsAtTheFileEnd) {
  const BlobRef blob = fetcher_.Put(std::string(kB + 7, 'q'));
  ASSERT_TRUE(cache_->EnsureLineRange(blob, 3, 5).ok());
  EXPECT_THAT(fetcher_.fetched(), ElementsAre(0, 1));
}

TEST_F(BlobCacheTest, RejectsACorruptedBlockAndKeepsTheGoodOnes) {
  const BlobRef blob = fetcher_.Put(Lines(3));
  fetcher_.Corrupt(blob.sha256, 1);
  absl::Status st = cache_->EnsureWhole(blob);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr(blob.sha256));

  fetcher_.ResetCounts();
  ASSERT_TRUE(cache_->EnsureRange(blob, 0, 10).ok());  // block 0 was good
  EXPECT_EQ(fetcher_.calls(), 0);
  // Block 1 was not stored: asked for again (and still bad).
  EXPECT_EQ(cache_->EnsureRange(blob, kB, 10).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_THAT(fetcher_.fetched(), ElementsAre(1));
}

TEST_F(BlobCacheTest, AFetchErrorFailsTheEnsure) {
  const BlobRef blob = fetcher_.Put(Lines(1));
  fetcher_.FailWith(absl::UnavailableError("coordinator unreachable"));
  absl::Status st = cache_->EnsureWhole(blob);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr(blob.sha256));
}

TEST_F(BlobCacheTest, ACancelStopsTheFetch) {
  const BlobRef blob = fetcher_.Put(Lines(2));
  const BlobCache::StopFlag cancel(true);
  EXPECT_EQ(cache_->EnsureWhole(blob, &cancel).code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(cache_->stats().blocks_fetched, 0u);
}

TEST_F(BlobCacheTest, BlocksSurviveARestart) {
  const std::string content = Lines(3);
  const BlobRef blob = fetcher_.Put(content);
  ASSERT_TRUE(cache_->EnsureRange(blob, kB + 1, 10).ok());
  Reopen(uint64_t{10} << 30);
  fetcher_.ResetCounts();
  ASSERT_TRUE(cache_->EnsureRange(blob, kB, kB).ok());
  EXPECT_EQ(fetcher_.calls(), 0);
  EXPECT_EQ(Cached(blob, kB, kB), content.substr(kB, kB));
  // Blocks that were missing still are.
  ASSERT_TRUE(cache_->EnsureWhole(blob).ok());
  EXPECT_THAT(fetcher_.fetched(), ElementsAre(0, 2));
  EXPECT_EQ(*ReadFile(cache_->DataPath(blob.sha256)), content);
}

TEST_F(BlobCacheTest, EvictsTheLeastRecentlyUsedUnpinnedBlobs) {
  Reopen(5 * kB / 2);
  const BlobRef a = fetcher_.Put(std::string(kB, 'a'));
  const BlobRef b = fetcher_.Put(std::string(kB, 'b'));
  const BlobRef c = fetcher_.Put(std::string(kB, 'c'));
  const BlobRef d = fetcher_.Put(std::string(kB, 'd'));
  ASSERT_TRUE(cache_->Add(/*job_id=*/1, a).ok());  // pinned, least recent
  ASSERT_TRUE(cache_->EnsureWhole(a).ok());
  ASSERT_TRUE(cache_->EnsureWhole(b).ok());
  ASSERT_TRUE(cache_->EnsureWhole(c).ok());  // 3 MiB > 2.5: b goes
  EXPECT_TRUE(Exists(cache_->DataPath(a.sha256)));
  EXPECT_FALSE(Exists(cache_->DataPath(b.sha256)));
  EXPECT_TRUE(Exists(cache_->DataPath(c.sha256)));
  EXPECT_EQ(cache_->stats().blobs_evicted, 1u);

  cache_->UnpinJob(1);
  ASSERT_TRUE(cache_->EnsureWhole(d).ok());  // now a is the oldest
  EXPECT_FALSE(Exists(cache_->DataPath(a.sha256)));
  EXPECT_TRUE(Exists(cache_->DataPath(c.sha256)));
  EXPECT_TRUE(Exists(cache_->DataPath(d.sha256)));
  EXPECT_EQ(cache_->stats().bytes_present, 2 * kB);
}

TEST_F(BlobCacheTest, GoesOverTheCapWhenEverythingIsPinned) {
  Reopen(kB / 2);
  const BlobRef a = fetcher_.Put(std::string(kB, 'a'));
  const BlobRef b = fetcher_.Put(std::string(kB, 'b'));
  ASSERT_TRUE(cache_->Add(7, a).ok());
  ASSERT_TRUE(cache_->Add(8, b).ok());
  ASSERT_TRUE(cache_->EnsureWhole(a).ok());
  ASSERT_TRUE(cache_->EnsureWhole(b).ok());
  EXPECT_EQ(cache_->stats().bytes_present, 2 * kB);
  EXPECT_EQ(cache_->stats().blobs_evicted, 0u);
}

TEST_F(BlobCacheTest, AddCreatesAFullSizeFileAndRefusesAnotherSize) {
  const BlobRef blob = fetcher_.Put(Lines(2, 5));
  absl::StatusOr<std::string> path = cache_->Add(1, blob);
  ASSERT_TRUE(path.ok()) << path.status();
  struct stat st;
  ASSERT_EQ(stat(path->c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), blob.size);
  EXPECT_EQ(st.st_mode & 0222, 0u);  // jobs read it in place, never write
  EXPECT_EQ(fetcher_.calls(), 0);
  EXPECT_EQ(cache_->Add(1, {blob.sha256, blob.size + 1}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cache_->Add(1, {"../etc/passwd", 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Never read by its job: gone when the job ends.
  cache_->UnpinJob(1);
  EXPECT_FALSE(Exists(*path));
}

TEST_F(BlobCacheTest, ConcurrentShardsFetchEachBlockOnce) {
  const std::string content = Lines(8);
  const BlobRef blob = fetcher_.Put(content);
  std::vector<std::thread> shards;
  for (int i = 0; i < 8; ++i) {
    shards.emplace_back([&, i] {
      EXPECT_TRUE(cache_->EnsureLineRange(blob, i * kB, (i + 1) * kB).ok());
    });
  }
  for (std::thread& t : shards) t.join();
  std::vector<uint64_t> fetched = fetcher_.fetched();
  std::sort(fetched.begin(), fetched.end());
  EXPECT_THAT(fetched, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
  EXPECT_EQ(*ReadFile(cache_->DataPath(blob.sha256)), content);
}

TEST_F(BlobCacheTest, ASecondWorkerCannotShareTheDirectory) {
  FakeBlobFetcher other;
  EXPECT_EQ(BlobCache::Open({dir_, 1}, &other).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shardex
