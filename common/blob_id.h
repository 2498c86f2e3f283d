// Names and blocks of the coordinator's content-addressed store
// (docs/staging.md): a blob is named by the lower-case hex SHA-256 of its
// content, and is verified and fetched in blocks of kBlobBlockBytes.
//
// Thread-safety: Sha256Hasher is a plain value; one per thread.
#ifndef SHARDEX_COMMON_BLOB_ID_H_
#define SHARDEX_COMMON_BLOB_ID_H_

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shardex {

// Bytes per block: the unit of upload verification, ReadBlob and the
// workers' cache. The last block of a blob may be shorter.
inline constexpr uint64_t kBlobBlockBytes = uint64_t{1} << 20;

// Blocks of a blob of `size` bytes.
inline uint64_t BlobBlocks(uint64_t size) {
  return (size + kBlobBlockBytes - 1) / kBlobBlockBytes;
}

// True for 64 lower-case hex digits: the only names the store accepts, so a
// name can never be a path.
bool IsBlobId(std::string_view id);

// Incremental SHA-256.
class Sha256Hasher {
 public:
  Sha256Hasher();
  void Update(std::string_view bytes);
  // The digest as 32 raw bytes; the hasher is spent afterwards.
  std::string FinishRaw();
  // The digest as 64 lower-case hex digits; the hasher is spent afterwards.
  std::string FinishHex();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// SHA-256 of `bytes`, raw (32 bytes) or hex.
std::string Sha256Raw(std::string_view bytes);
std::string Sha256Hex(std::string_view bytes);

// SHA-256 (hex) of a file's content, read in blocks; errors name the path.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

}  // namespace shardex

#endif  // SHARDEX_COMMON_BLOB_ID_H_
