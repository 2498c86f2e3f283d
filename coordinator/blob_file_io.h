// File helpers shared by BlobStore, BlobUpload and BlobReader (the layout
// of the store's files is described in blob_store.h): the size of a
// recorded block hash and whole-buffer write/read loops that retry EINTR
// and report errors naming the file.
//
// Thread-safety: plain functions; safe to call concurrently on different
// descriptors.
#ifndef SHARDEX_COORDINATOR_BLOB_FILE_IO_H_
#define SHARDEX_COORDINATOR_BLOB_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardex {
namespace blob_io {

// Bytes of one block's raw SHA-256 in DIR/blobs/<sha>.blocks.
inline constexpr size_t kHashBytes = 32;

// Writes all of `data` to `fd`; errors name `path`.
absl::Status WriteAll(int fd, std::string_view data, const std::string& path);

// Reads up to `len` bytes at `offset`; short only at the end of the file.
absl::StatusOr<std::string> ReadAt(int fd, uint64_t offset, size_t len,
                                   const std::string& path);

}  // namespace blob_io
}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_BLOB_FILE_IO_H_
