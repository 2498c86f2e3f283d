// BlobFetcher: where a worker's blob cache gets the blocks it lacks -- in
// production the coordinator's Store.ReadBlob (worker/grpc_blob_fetcher.h),
// in tests a fake. The fetcher only moves bytes; the cache checks each
// block against its recorded SHA-256 and stores it.
//
// Thread-safety: implementations must allow concurrent Fetch calls.
#ifndef SHARDEX_WORKER_BLOB_FETCHER_H_
#define SHARDEX_WORKER_BLOB_FETCHER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shardex {

class BlobFetcher {
 public:
  // Receives one block: its index in the blob, its bytes, and the SHA-256
  // (32 raw bytes) the store recorded for it. A non-OK return stops the
  // fetch, and Fetch returns that status.
  using BlockFn = std::function<absl::Status(
      uint64_t block_index, std::string_view data, std::string_view sha256)>;

  virtual ~BlobFetcher() = default;

  // Delivers blocks [first_block, first_block + block_count) of blob
  // `sha256` (hex), whose size is `blob_size` bytes, in order. Errors say
  // why the blocks could not be had (UNAVAILABLE, NOT_FOUND, ...).
  virtual absl::Status Fetch(const std::string& sha256, uint64_t blob_size,
                             uint64_t first_block, uint64_t block_count,
                             const BlockFn& fn) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_BLOB_FETCHER_H_
