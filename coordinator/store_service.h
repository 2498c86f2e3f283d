// StoreService: the Store gRPC service (proto/shardex.proto, "Store"), a
// thin layer over BlobStore and JobOutputs (docs/staging.md). Clients
// (token or client certificate) call StatBlobs, UploadBlob, ListOutputs and
// ReadOutput; workers (token or worker certificate) call ReadBlob.
//
// Streams are handled a message at a time: an upload's chunks are appended
// to the partial file as they arrive, ReadBlob sends one block per message
// with its recorded SHA-256, ReadOutput reads the file a chunk at a time.
// The whole-file hash of a finished upload (which may take a while for a
// large file) runs on the service's own thread, never a gRPC thread.
//
// Without a store (a coordinator with no state directory) every call is
// FAILED_PRECONDITION, and jobs must use --shared-fs.
//
// Thread-safety: gRPC calls the handlers from many threads; the store and
// the outputs are thread-safe, and each stream's reactor is used by one
// callback at a time.
#ifndef SHARDEX_COORDINATOR_STORE_SERVICE_H_
#define SHARDEX_COORDINATOR_STORE_SERVICE_H_

#include "common/thread_pool.h"
#include "coordinator/auth.h"
#include "coordinator/blob_store.h"
#include "coordinator/job_outputs.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

class StoreService final : public shardex::v1::Store::CallbackService {
 public:
  // `store` and `outputs` may be null (no state directory); all pointers
  // outlive the service.
  StoreService(BlobStore* store, const JobOutputs* outputs,
               const Authenticator* client_auth,
               const Authenticator* worker_auth)
      : store_(store),
        outputs_(outputs),
        client_auth_(client_auth),
        worker_auth_(worker_auth) {}

  grpc::ServerUnaryReactor* StatBlobs(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::StatBlobsRequest* request,
      shardex::v1::StatBlobsResponse* response) override;
  grpc::ServerReadReactor<shardex::v1::UploadChunk>* UploadBlob(
      grpc::CallbackServerContext* ctx,
      shardex::v1::UploadBlobResponse* response) override;
  grpc::ServerWriteReactor<shardex::v1::BlobBlock>* ReadBlob(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::ReadBlobRequest* request) override;
  grpc::ServerUnaryReactor* ListOutputs(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::ListOutputsRequest* request,
      shardex::v1::ListOutputsResponse* response) override;
  grpc::ServerWriteReactor<shardex::v1::DataChunk>* ReadOutput(
      grpc::CallbackServerContext* ctx,
      const shardex::v1::ReadOutputRequest* request) override;

 private:
  // The caller's access check, then that there is a store.
  absl::Status Allowed(const grpc::CallbackServerContext& ctx,
                       const Authenticator* auth) const;

  BlobStore* const store_;
  const JobOutputs* const outputs_;
  const Authenticator* const client_auth_;
  const Authenticator* const worker_auth_;
  // Finished uploads are hashed here. Last member: joined first.
  ThreadPool verifier_{1};
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_STORE_SERVICE_H_
