// FakeBlobFetcher: a BlobFetcher over blobs held in memory, for tests. It
// counts what it serves, can corrupt a block or fail every fetch.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SHARDEX_WORKER_FAKE_BLOB_FETCHER_H_
#define SHARDEX_WORKER_FAKE_BLOB_FETCHER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/blob_id.h"
#include "worker/blob_cache.h"
#include "worker/blob_fetcher.h"

namespace shardex {

class FakeBlobFetcher : public BlobFetcher {
 public:
  // Stores `content`; returns how a job names it.
  BlobRef Put(const std::string& content) ABSL_LOCKS_EXCLUDED(mu_) {
    BlobRef ref{Sha256Hex(content), content.size()};
    absl::MutexLock lock(&mu_);
    blobs_[ref.sha256] = content;
    return ref;
  }
  // Serves block `block` of `sha256` with one byte changed (its recorded
  // SHA-256 stays the true one).
  void Corrupt(const std::string& sha256, uint64_t block)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    corrupt_.insert({sha256, block});
  }
  // Every Fetch fails with `status` (OK: serve again).
  void FailWith(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }

  absl::Status Fetch(const std::string& sha256, uint64_t blob_size,
                     uint64_t first_block, uint64_t block_count,
                     const BlockFn& fn) override ABSL_LOCKS_EXCLUDED(mu_) {
    std::string content;
    std::set<uint64_t> corrupt;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (!fail_.ok()) return fail_;
      auto it = blobs_.find(sha256);
      if (it == blobs_.end()) {
        return absl::NotFoundError(absl::StrCat("no blob ", sha256));
      }
      content = it->second;
      for (const auto& [sha, block] : corrupt_) {
        if (sha == sha256) corrupt.insert(block);
      }
    }
    if (content.size() != blob_size) {
      return absl::InvalidArgumentError("wrong blob size");
    }
    for (uint64_t b = first_block; b < first_block + block_count; ++b) {
      const uint64_t at = b * kBlobBlockBytes;
      if (at >= content.size()) break;
      std::string data = content.substr(at, kBlobBlockBytes);
      const std::string sha = Sha256Raw(data);
      if (corrupt.count(b) > 0) data[0] ^= 1;
      {
        absl::MutexLock lock(&mu_);
        fetched_.push_back(b);
        fetched_of_[sha256].push_back(b);
      }
      absl::Status st = fn(b, data, sha);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  int calls() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Indices of every block served, in order.
  std::vector<uint64_t> fetched() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return fetched_;
  }
  // The same for one blob.
  std::vector<uint64_t> FetchedOf(const std::string& sha256) const
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = fetched_of_.find(sha256);
    return it == fetched_of_.end() ? std::vector<uint64_t>() : it->second;
  }
  void ResetCounts() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    calls_ = 0;
    fetched_.clear();
    fetched_of_.clear();
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> blobs_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, uint64_t>> corrupt_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> fetched_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>> fetched_of_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_FAKE_BLOB_FETCHER_H_
