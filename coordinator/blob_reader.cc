#include "coordinator/blob_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "coordinator/blob_file_io.h"
#include "coordinator/blob_store.h"

namespace shardex {

BlobReader::BlobReader(BlobStore* store, std::string sha, UniqueFd data,
                       UniqueFd blocks, uint64_t next, uint64_t end,
                       uint64_t size)
    : store_(store),
      sha_(std::move(sha)),
      data_(std::move(data)),
      blocks_(std::move(blocks)),
      next_(next),
      end_(end),
      size_(size) {}

absl::StatusOr<BlobBlockData> BlobReader::Next() {
  if (done()) return absl::OutOfRangeError("no more blocks");
  const size_t len =
      static_cast<size_t>(std::min<uint64_t>(kBlobBlockBytes, size_ - next_));
  const std::string path = store_->BlobPath(sha_);
  BlobBlockData block;
  block.offset = next_;
  absl::StatusOr<std::string> data =
      blob_io::ReadAt(data_.get(), next_, len, path);
  if (!data.ok()) return data.status();
  absl::StatusOr<std::string> hash = blob_io::ReadAt(
      blocks_.get(), next_ / kBlobBlockBytes * blob_io::kHashBytes,
      blob_io::kHashBytes, store_->BlocksPath(sha_));
  if (!hash.ok()) return hash.status();
  if (data->size() != len || hash->size() != blob_io::kHashBytes) {
    return absl::DataLossError(
        absl::StrCat("blob ", sha_, " in ", path, " is shorter than recorded"));
  }
  block.data = *std::move(data);
  block.sha256_raw = *std::move(hash);
  next_ += len;
  store_->Served(sha_, len);
  return block;
}

}  // namespace shardex
