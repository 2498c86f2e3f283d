// BlobReader: reads a stored blob of the coordinator's BlobStore
// (blob_store.h, docs/staging.md) block by block, each block of
// kBlobBlockBytes with the SHA-256 recorded when the whole file was
// verified (DIR/blobs/<sha>.blocks), so a client can check what it fetches
// block by block. Opened by BlobStore::OpenReader for a range of blocks;
// the descriptors it holds keep the blob readable even if Collect deletes
// it meanwhile. Each block read is counted as served in the store's index.
//
// Thread-safety: a BlobReader is used by one thread at a time and must not
// outlive its store. Its reads run without the store's lock.
#ifndef SHARDEX_COORDINATOR_BLOB_READER_H_
#define SHARDEX_COORDINATOR_BLOB_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace shardex {

class BlobStore;

// One block of a blob, with the SHA-256 recorded when it was verified.
struct BlobBlockData {
  uint64_t offset = 0;
  std::string data;
  std::string sha256_raw;  // 32 bytes
};

class BlobReader {
 public:
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  bool done() const { return next_ >= end_; }
  // The next block; counts its bytes as served.
  absl::StatusOr<BlobBlockData> Next();

 private:
  friend class BlobStore;
  BlobReader(BlobStore* store, std::string sha, UniqueFd data, UniqueFd blocks,
             uint64_t next, uint64_t end, uint64_t size);

  BlobStore* const store_;
  const std::string sha_;
  UniqueFd data_;
  UniqueFd blocks_;
  uint64_t next_;  // offset of the next block
  const uint64_t end_;
  const uint64_t size_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_BLOB_READER_H_
