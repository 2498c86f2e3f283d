// BlobCache: a worker's local copy of the coordinator's blobs
// (docs/staging.md), filled a 1 MiB block at a time so that a shard fetches
// only the part of a file it reads.
//
// On disk, under `dir` (SCRATCH/cache), in the format of BlobDir
// (worker/blob_dir.h): per blob a sparse, full-size, read-only data file
// that kernels and commands read like the original (a block not yet
// fetched reads as zeros -- callers Ensure what they read first), and a
// record of the blocks present that survives a worker restart. A block
// comes from the BlobFetcher and is stored only if its bytes match the
// SHA-256 the coordinator recorded for it (else DATA_LOSS naming the
// blob). Only one process may use a directory: Open locks it.
//
// Size cap: after a fetch that brings the blocks present over `max_bytes`,
// the least recently used blobs that no job pins (Pin) and no Ensure is
// using are evicted; if that is not enough, the cache goes on over its cap
// and logs a warning.
//
// Thread-safety: all methods are safe from any thread. Shards on the same
// blob fetch one at a time (a per-blob fetch lock, held across the fetch on
// purpose: a second shard waiting for the same blocks must not fetch them
// again); different blobs fetch in parallel. The cache-wide lock is never
// held during a fetch or while block data is written (only while a new
// blob's two small files are made, and while evicted ones are unlinked).
#ifndef SHARDEX_WORKER_BLOB_CACHE_H_
#define SHARDEX_WORKER_BLOB_CACHE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "worker/blob_dir.h"
#include "worker/blob_fetcher.h"

namespace shardex {

class BlobCache {
 public:
  // A shard's cancel flag (kernels/shard_runner.h's CancelFlag).
  using StopFlag = std::atomic<bool>;

  struct Options {
    std::string dir;                          // SCRATCH/cache
    uint64_t max_bytes = uint64_t{10} << 30;  // --cache-bytes
  };

  struct Stats {
    uint64_t bytes_fetched = 0;  // block bytes received and stored
    uint64_t blocks_fetched = 0;
    uint64_t blocks_from_cache = 0;  // wanted blocks that were present
    uint64_t blobs_evicted = 0;
    uint64_t bytes_present = 0;  // blocks on disk now
  };

  // Creates `dir` if needed, locks it and loads the records of the blobs
  // already there (dropping any whose files disagree). `fetcher` must
  // outlive the cache.
  static absl::StatusOr<std::unique_ptr<BlobCache>> Open(Options options,
                                                         BlobFetcher* fetcher);

  BlobCache(const BlobCache&) = delete;
  BlobCache& operator=(const BlobCache&) = delete;

  // Where the blob's data file is (whether or not it exists).
  std::string DataPath(const std::string& sha256) const;

  // Creates the blob's (sparse, full-size) data file and record if they do
  // not exist, so its path can be opened and stat'ed, and pins the blob for
  // `job_id` (eviction skips it until UnpinJob). INVALID_ARGUMENT for a bad
  // name, FAILED_PRECONDITION if the cache holds that name at another size.
  absl::StatusOr<std::string> Add(uint64_t job_id, const BlobRef& blob)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Drops every pin of `job_id`.
  void UnpinJob(uint64_t job_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes the blocks holding bytes [offset, offset + length) present,
  // fetching only the missing ones (one Fetch per run of missing blocks).
  // Setting `*cancel` stops a fetch within a block (CANCELLED); the blocks
  // already stored stay.
  absl::Status EnsureRange(const BlobRef& blob, uint64_t offset,
                           uint64_t length, const StopFlag* cancel = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Makes present all a line-aligned shard [begin, end) of the file reads
  // (kernels/input_split.h): the blocks holding bytes begin-1 (if
  // begin > 0) through end, then further blocks until a '\n' at or after
  // end-1 is present or the file ends.
  absl::Status EnsureLineRange(const BlobRef& blob, uint64_t begin,
                               uint64_t end, const StopFlag* cancel = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status EnsureWhole(const BlobRef& blob,
                           const StopFlag* cancel = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One blob. Fields other than fetch_mu are protected by BlobCache::mu_.
  struct Entry {
    uint64_t size = 0;
    std::vector<bool> present;  // by block
    uint64_t present_bytes = 0;
    uint64_t last_use = 0;  // tick_ of the last Add or Ensure
    int users = 0;          // Ensure calls in progress
    // Serialises fetches (and record writes) of this blob.
    absl::Mutex fetch_mu;
  };

  BlobCache(Options options, BlobFetcher* fetcher, UniqueFd lock)
      : options_(std::move(options)),
        dir_(options_.dir),
        fetcher_(fetcher),
        lock_(std::move(lock)) {}

  // Takes in the blobs found on disk, least recently used first.
  void Load(std::vector<StoredBlob> stored) ABSL_LOCKS_EXCLUDED(mu_);
  // The entry, created (with its files) if missing; counted as in use
  // until Release.
  absl::StatusOr<std::shared_ptr<Entry>> Use(const BlobRef& blob)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Release(const std::shared_ptr<Entry>& entry) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::shared_ptr<Entry>> FindOrCreate(const BlobRef& blob)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Blocks [first, last] present, fetching what is missing.
  absl::Status EnsureBlocks(const BlobRef& blob, Entry* entry, uint64_t first,
                            uint64_t last, const StopFlag* cancel)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Fetches blocks [first, first + count) into `fd` (with fetch_mu held).
  absl::Status FetchRun(const BlobRef& blob, Entry* entry, int fd,
                        uint64_t first, uint64_t count, const StopFlag* cancel)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteRecord(const std::string& sha256, Entry* entry)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a '\n' is in bytes [from, end of block `block`] of the data
  // file (all present).
  absl::StatusOr<bool> NewlineIn(const BlobRef& blob, uint64_t from,
                                 uint64_t block) const;
  void EvictIfOver() ABSL_LOCKS_EXCLUDED(mu_);
  using BlobMap = std::map<std::string, std::shared_ptr<Entry>>;
  // Deletes the blob's files and entry.
  void Remove(BlobMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const Options options_;
  const BlobDir dir_;
  BlobFetcher* const fetcher_;
  const UniqueFd lock_;

  mutable absl::Mutex mu_;
  // State below is protected by mu_.
  BlobMap blobs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::vector<std::string>> pins_by_job_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> pins_ ABSL_GUARDED_BY(mu_);
  uint64_t tick_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_BLOB_CACHE_H_
