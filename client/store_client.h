// StoreClient: the client side of the coordinator's Store service
// (docs/staging.md). Uploads the submitting host's files as blobs, and reads
// a job's outputs back into local files. Shares a CoordinatorClient's
// channel, token and error wording (client/client.h).
//
// Nothing is held whole in memory: uploads stream kBlobBlockBytes chunks
// read from the file, downloads write each chunk as it arrives.
//
// Unary calls (StatBlobs, ListOutputs) carry the client's deadline and are
// retried like every CoordinatorClient call. Streams (UploadBlob,
// ReadOutput) carry no deadline (a large file takes as long as it takes;
// keepalive notices a dead link) and are not retried here: a failed upload
// is resumed by the next StatBlobs/Upload from the coordinator's
// received_bytes.
//
// Thread-safety: safe to share between threads, like CoordinatorClient.
// The CoordinatorClient must outlive the StoreClient.
#ifndef SHARDEX_CLIENT_STORE_CLIENT_H_
#define SHARDEX_CLIENT_STORE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class StoreClient {
 public:
  explicit StoreClient(CoordinatorClient& client);

  // One BlobStat per id, in the order asked.
  absl::StatusOr<std::vector<shardex::v1::BlobStat>> StatBlobs(
      const std::vector<std::string>& sha256);

  // Called after each chunk the coordinator accepted into its stream with
  // the bytes of the file sent so far (offset included).
  using UploadProgress = std::function<void(uint64_t sent)>;

  // Sends bytes [offset, size) of the file at `path` as blob `sha256` of
  // `size` bytes, in chunks of at most kBlobBlockBytes. The coordinator
  // verifies the SHA-256; its refusal (a quota, a mismatch) is the error.
  // A file that no longer has `size` bytes is FAILED_PRECONDITION naming it.
  absl::Status Upload(const std::string& path, const std::string& sha256,
                      uint64_t size, uint64_t offset,
                      const UploadProgress& progress);

  // The complete output files the coordinator keeps for the job.
  absl::StatusOr<std::vector<shardex::v1::OutputFile>> ListOutputs(
      uint64_t job_id);

  // Writes output `name` of the job to `dest`: into a temporary file beside
  // it (".<basename>.shardex-part"), then renamed over `dest`, so `dest`
  // never shows a partial file. On error the temporary file is removed.
  absl::Status ReadOutput(uint64_t job_id, const std::string& name,
                          const std::string& dest);

 private:
  CoordinatorClient& client_;
  std::unique_ptr<shardex::v1::Store::Stub> stub_;  // null on channel error
};

// The temporary name ReadOutput writes `dest` under before the rename.
std::string PartialDownloadPath(const std::string& dest);

}  // namespace shardex

#endif  // SHARDEX_CLIENT_STORE_CLIENT_H_
