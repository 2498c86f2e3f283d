// BlobUpload: one upload of a file into the coordinator's BlobStore
// (blob_store.h, docs/staging.md), begun or resumed by
// BlobStore::BeginUpload. It streams the bytes to the blob's partial file
// (DIR/partial/<sha>) and, when the last byte is in, hashes the whole file
// again (it may have been written by several resumed uploads), records the
// SHA-256 of each block in DIR/blobs/<sha>.blocks and moves the file into
// DIR/blobs/. A mismatch, or data past the announced size, discards the
// partial file. Destroying an upload before Finish keeps what was written
// as the partial file, for a later upload to resume.
//
// The store keeps the index: the upload tells it what was appended, that
// the blob is complete, or that the upload ended.
//
// Thread-safety: a BlobUpload is used by one thread at a time and must not
// outlive its store. Its file I/O runs without the store's lock (a blob
// has at most one upload at a time).
#ifndef SHARDEX_COORDINATOR_BLOB_UPLOAD_H_
#define SHARDEX_COORDINATOR_BLOB_UPLOAD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/unique_fd.h"

namespace shardex {

class BlobStore;

class BlobUpload {
 public:
  ~BlobUpload();
  BlobUpload(const BlobUpload&) = delete;
  BlobUpload& operator=(const BlobUpload&) = delete;

  const std::string& sha256() const { return sha_; }
  uint64_t size() const { return size_; }
  uint64_t received() const { return received_; }
  // True when the blob was already stored at BeginUpload, or after Finish.
  bool complete() const { return complete_; }

  // Appends the next bytes. INVALID_ARGUMENT past `size` (the partial file
  // is discarded).
  absl::Status Append(std::string_view data);
  // With all `size` bytes in: hashes the whole file and moves it into
  // blobs/. DATA_LOSS on a hash mismatch (the partial file is discarded).
  // FAILED_PRECONDITION before the last byte (the partial file stays).
  absl::Status Finish();

 private:
  friend class BlobStore;
  BlobUpload(BlobStore* store, std::string sha, uint64_t size,
             uint64_t received, UniqueFd fd, bool complete);
  // Discards the partial file and ends the upload with `error`.
  absl::Status Fail(absl::Status error);
  // Hashes the whole partial file, checks it against the name, writes the
  // block hashes and moves both into blobs/. On error the caller discards
  // the partial file.
  absl::Status Install();

  BlobStore* const store_;
  const std::string sha_;
  const uint64_t size_;
  uint64_t received_;
  UniqueFd fd_;
  bool complete_;
  bool ended_ = false;  // the store no longer counts it as running
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_BLOB_UPLOAD_H_
