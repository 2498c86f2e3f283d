// BlobDir: the on-disk format of a worker's blob cache directory
// (worker/blob_cache.h keeps the policy: which blocks to fetch, pins, LRU).
//
//   <sha256>         the data file: sparse, created at the blob's full size
//                    and read-only (jobs read it in place; only the cache
//                    writes it, through OpenForWriting);
//   <sha256>.blocks  which blocks are present, one byte per block (1: yes),
//                    replaced atomically; written before the data file is
//                    created, and after the blocks it lists are synced, so
//                    it never claims a block that is not on disk;
//   LOCK             flock'ed by the one process using the directory.
//
// Thread-safety: the methods keep no state; calls on different blobs may
// run concurrently, calls on one blob must not (BlobCache serialises them).
#ifndef SHARDEX_WORKER_BLOB_DIR_H_
#define SHARDEX_WORKER_BLOB_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace shardex {

// A blob as a job names it (StagedFile.sha256, StagedFile.size).
struct BlobRef {
  std::string sha256;  // 64 lower-case hex digits
  uint64_t size = 0;
};

// A blob found on disk by Scan.
struct StoredBlob {
  BlobRef blob;
  std::vector<bool> present;  // by block
};

// Bytes in block `block` of a blob of `size` bytes.
uint64_t BlockLength(uint64_t size, uint64_t block);

class BlobDir {
 public:
  explicit BlobDir(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string DataPath(const std::string& sha256) const;
  std::string RecordPath(const std::string& sha256) const;

  // Creates the directory if needed and takes its lock, held while the
  // returned descriptor is open: FAILED_PRECONDITION if another process
  // (or another open of the same directory) holds it.
  absl::StatusOr<UniqueFd> Lock() const;
  // The blobs whose data file and record agree, least recently recorded
  // first; every other file (a torn pair, a temporary) is deleted.
  absl::StatusOr<std::vector<StoredBlob>> Scan() const;
  // An empty record, then a fresh full-size, sparse, read-only data file.
  absl::Status Create(const BlobRef& blob) const;
  // A read-write descriptor on the (read-only) data file.
  absl::StatusOr<UniqueFd> OpenForWriting(const std::string& sha256) const;
  absl::Status WriteRecord(const std::string& sha256,
                           const std::vector<bool>& present) const;
  void Remove(const std::string& sha256) const;

 private:
  const std::string dir_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_BLOB_DIR_H_
