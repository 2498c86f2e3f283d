// GrpcBlobFetcher: the production BlobFetcher, calling the coordinator's
// Store.ReadBlob with the worker's credentials -- the same channel options
// (address, TLS files: a client certificate if the worker has one) and
// access token as its sessions (worker/session.cc).
//
// The channel is made on first use and made again after a failed fetch or
// once it is kChannelMaxAge old, so a renewed certificate is picked up the
// way a new session picks it up. Every call has a deadline.
//
// Thread-safety: Fetch may be called from many threads at once.
#ifndef SHARDEX_WORKER_GRPC_BLOB_FETCHER_H_
#define SHARDEX_WORKER_GRPC_BLOB_FETCHER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/channel.h"
#include "grpcpp/channel.h"
#include "worker/blob_fetcher.h"

namespace shardex {

class GrpcBlobFetcher : public BlobFetcher {
 public:
  // `token` may be empty (no token metadata).
  GrpcBlobFetcher(ChannelOptions channel, std::string token)
      : options_(std::move(channel)), token_(std::move(token)) {}

  absl::Status Fetch(const std::string& sha256, uint64_t blob_size,
                     uint64_t first_block, uint64_t block_count,
                     const BlockFn& fn) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel()
      ABSL_LOCKS_EXCLUDED(mu_);
  void DropChannel() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const ChannelOptions options_;
  const std::string token_;

  absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  absl::Time channel_made_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_GRPC_BLOB_FETCHER_H_
