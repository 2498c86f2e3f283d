// FakeStore: the coordinator's Store service as workers see it, for tests:
// ReadBlob serves in-memory blobs the way the coordinator does (whole
// blocks from `offset`, `length` bytes or, for 0, to the end, each with
// its SHA-256) and records each call's token and range.
//
// Thread-safety: safe from any thread (gRPC calls it from its own).
#ifndef SHARDEX_WORKER_FAKE_STORE_H_
#define SHARDEX_WORKER_FAKE_STORE_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/blob_id.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class FakeStore : public v1::Store::Service {
 public:
  struct Call {
    std::string token;  // the authorization metadata, "" if none
    std::string sha256;
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  // Stores `content`; returns its name.
  std::string Put(const std::string& content) ABSL_LOCKS_EXCLUDED(mu_) {
    std::string sha = Sha256Hex(content);
    absl::MutexLock lock(&mu_);
    blobs_[sha] = content;
    return sha;
  }

  grpc::Status ReadBlob(grpc::ServerContext* ctx,
                        const v1::ReadBlobRequest* req,
                        grpc::ServerWriter<v1::BlobBlock>* writer) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    std::string blob;
    {
      absl::MutexLock lock(&mu_);
      auto auth = ctx->client_metadata().find("authorization");
      calls_.push_back(
          {auth == ctx->client_metadata().end()
               ? ""
               : std::string(auth->second.data(), auth->second.size()),
           req->sha256(), req->offset(), req->length()});
      auto it = blobs_.find(req->sha256());
      if (it == blobs_.end()) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such blob");
      }
      blob = it->second;
    }
    const uint64_t end =
        req->length() == 0 ? blob.size() : req->offset() + req->length();
    if (req->offset() % kBlobBlockBytes != 0 || end > blob.size()) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "bad range");
    }
    for (uint64_t at = req->offset(); at < end; at += kBlobBlockBytes) {
      v1::BlobBlock block;
      block.set_offset(at);
      block.set_data(blob.substr(at, kBlobBlockBytes));
      block.set_block_sha256(Sha256Raw(block.data()));
      if (!writer->Write(block)) break;
    }
    return grpc::Status::OK;
  }

  std::vector<Call> calls() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> blobs_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_FAKE_STORE_H_
