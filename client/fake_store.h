// FakeStore: an in-process v1::Store service for client tests. It keeps
// blobs and one job's outputs in memory, records what clients sent and
// read, and can be told to refuse or break a call.
//
// Thread-safety: handlers run on gRPC threads; every member is guarded by
// mu_, and the accessors copy out under it.
#ifndef SHARDEX_CLIENT_FAKE_STORE_H_
#define SHARDEX_CLIENT_FAKE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class FakeStore final : public shardex::v1::Store::Service {
 public:
  // One UploadBlob call as received.
  struct Upload {
    std::string sha256;
    uint64_t size = 0;
    uint64_t offset = 0;
    std::string data;                 // every chunk, concatenated
    std::vector<size_t> chunk_bytes;  // size of each message's data
  };

  // Blob states StatBlobs reports.
  void SetStored(const std::string& sha256, uint64_t size);
  void SetPartial(const std::string& sha256, uint64_t received_bytes);
  // Every UploadBlob fails with this (after reading the first message).
  void FailUploads(grpc::Status status);
  // The next UploadBlob fails UNAVAILABLE once it has `bytes` of data,
  // keeping them as the blob's partial copy (received_bytes).
  void BreakNextUploadAfter(uint64_t bytes);
  std::vector<Upload> uploads() const;
  std::vector<std::vector<std::string>> stat_requests() const;

  // Outputs of job `job_id`, listed in the order added.
  void AddOutput(uint64_t job_id, const std::string& name,
                 const std::string& content);
  // ReadOutput of `name` sends its first half, then fails UNAVAILABLE.
  void BreakOutput(const std::string& name);
  // Called (on the gRPC thread) as each ReadOutput starts, with the name.
  void OnRead(std::function<void(const std::string&)> hook);
  std::vector<std::string> reads() const;
  int list_calls() const;  // ListOutputs calls so far

  grpc::Status StatBlobs(grpc::ServerContext*,
                         const shardex::v1::StatBlobsRequest* req,
                         shardex::v1::StatBlobsResponse* resp) override;
  grpc::Status UploadBlob(grpc::ServerContext*,
                          grpc::ServerReader<shardex::v1::UploadChunk>* reader,
                          shardex::v1::UploadBlobResponse* resp) override;
  grpc::Status ListOutputs(grpc::ServerContext*,
                           const shardex::v1::ListOutputsRequest* req,
                           shardex::v1::ListOutputsResponse* resp) override;
  grpc::Status ReadOutput(
      grpc::ServerContext*, const shardex::v1::ReadOutputRequest* req,
      grpc::ServerWriter<shardex::v1::DataChunk>* writer) override;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, shardex::v1::BlobStat> blobs_ ABSL_GUARDED_BY(mu_);
  grpc::Status upload_error_ ABSL_GUARDED_BY(mu_);
  std::vector<Upload> uploads_ ABSL_GUARDED_BY(mu_);
  uint64_t break_after_ ABSL_GUARDED_BY(mu_) = 0;  // 0: no break
  std::vector<std::vector<std::string>> stat_requests_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::vector<std::pair<std::string, std::string>>> outputs_
      ABSL_GUARDED_BY(mu_);
  std::string broken_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&)> on_read_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> reads_ ABSL_GUARDED_BY(mu_);
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_CLIENT_FAKE_STORE_H_
