#include "coordinator/store_service.h"

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/unique_fd.h"
#include "coordinator/edge_status.h"

namespace shardex {
namespace {

// One UploadBlob stream: the first chunk names the blob, every chunk's data
// is appended as it arrives, and the upload is verified (on `verifier`)
// once its last byte is in.
class UploadReactor : public grpc::ServerReadReactor<v1::UploadChunk> {
 public:
  UploadReactor(BlobStore* store, ThreadPool* verifier,
                v1::UploadBlobResponse* response, const absl::Status& allowed)
      : store_(store), verifier_(verifier), response_(response) {
    if (!allowed.ok()) {
      Finish(EdgeStatus(allowed));
      return;
    }
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client's stream ended
      if (upload_ == nullptr) {
        End(absl::InvalidArgumentError(
            "an upload names its blob in its first message"));
      } else {
        Verify();
      }
      return;
    }
    absl::Status st = Take();
    if (!st.ok()) {
      End(st);
    } else if (upload_->complete()) {
      End(absl::OkStatus());
    } else if (upload_->received() == upload_->size()) {
      Verify();
    } else {
      StartRead(&chunk_);
    }
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    if (upload_ == nullptr) {
      absl::StatusOr<std::unique_ptr<BlobUpload>> begun =
          store_->BeginUpload(chunk_.sha256(), chunk_.size(), chunk_.offset());
      if (!begun.ok()) return begun.status();
      upload_ = *std::move(begun);
    }
    return upload_->Append(chunk_.data());
  }

  void Verify() {
    verifier_->Schedule([this] { End(upload_->Finish()); });
  }

  // Ends the upload before the client hears the answer, so that a resume
  // it sends at once does not find this one still running.
  void End(const absl::Status& st) {
    if (st.ok() && upload_ != nullptr) response_->set_size(upload_->size());
    upload_.reset();
    Finish(EdgeStatus(st));
  }

  BlobStore* const store_;
  ThreadPool* const verifier_;
  v1::UploadBlobResponse* const response_;
  v1::UploadChunk chunk_;
  std::unique_ptr<BlobUpload> upload_;
};

// Sends messages made by `next` one at a time until it returns nullopt
// (finish OK) or an error.
template <typename Message>
class PullWriter : public grpc::ServerWriteReactor<Message> {
 public:
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 protected:
  // Fills `message_`; false at the end. Errors finish the stream.
  virtual absl::StatusOr<bool> Fill() = 0;

  void WriteNext() {
    absl::StatusOr<bool> more = Fill();
    if (!more.ok()) {
      this->Finish(EdgeStatus(more.status()));
    } else if (!*more) {
      this->Finish(grpc::Status::OK);
    } else {
      this->StartWrite(&message_);
    }
  }

  Message message_;
};

class BlobReadReactor : public PullWriter<v1::BlobBlock> {
 public:
  BlobReadReactor(BlobStore* store, const v1::ReadBlobRequest& request,
                  absl::Status allowed) {
    if (allowed.ok()) {
      absl::StatusOr<std::unique_ptr<BlobReader>> reader = store->OpenReader(
          request.sha256(), request.offset(), request.length());
      if (reader.ok()) reader_ = *std::move(reader);
      allowed = reader.status();
    }
    if (!allowed.ok()) {
      Finish(EdgeStatus(allowed));
      return;
    }
    WriteNext();
  }

 private:
  absl::StatusOr<bool> Fill() override {
    if (reader_->done()) return false;
    absl::StatusOr<BlobBlockData> block = reader_->Next();
    if (!block.ok()) return block.status();
    message_.set_offset(block->offset);
    message_.set_data(std::move(block->data));
    message_.set_block_sha256(std::move(block->sha256_raw));
    return true;
  }

  std::unique_ptr<BlobReader> reader_;
};

class OutputReadReactor : public PullWriter<v1::DataChunk> {
 public:
  OutputReadReactor(const JobOutputs* outputs,
                    const v1::ReadOutputRequest& request, absl::Status allowed)
      : name_(request.name()), offset_(request.offset()) {
    if (allowed.ok()) {
      absl::StatusOr<UniqueFd> fd =
          outputs->Open(request.job_id(), request.name());
      if (fd.ok()) fd_ = *std::move(fd);
      allowed = fd.status();
    }
    if (!allowed.ok()) {
      Finish(EdgeStatus(allowed));
      return;
    }
    WriteNext();
  }

 private:
  absl::StatusOr<bool> Fill() override {
    std::string buf(kBlobBlockBytes, '\0');
    ssize_t n;
    do {
      n = pread(fd_.get(), buf.data(), buf.size(), static_cast<off_t>(offset_));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoError("cannot read output", name_);
    if (n == 0) return false;
    buf.resize(static_cast<size_t>(n));
    offset_ += static_cast<uint64_t>(n);
    message_.set_data(std::move(buf));
    return true;
  }

  const std::string name_;
  uint64_t offset_;
  UniqueFd fd_;
};

}  // namespace

absl::Status StoreService::Allowed(const grpc::CallbackServerContext& ctx,
                                   const Authenticator* auth) const {
  if (absl::Status st = auth->Check(ctx); !st.ok()) return st;
  if (store_ == nullptr || outputs_ == nullptr) {
    return absl::FailedPreconditionError(
        "this coordinator has no state directory, so no store: submit with "
        "--shared-fs, or start the coordinator with a --state-dir");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* StoreService::StatBlobs(
    grpc::CallbackServerContext* ctx, const v1::StatBlobsRequest* request,
    v1::StatBlobsResponse* response) {
  if (absl::Status st = Allowed(*ctx, client_auth_); !st.ok()) {
    return Done(ctx, st);
  }
  for (const std::string& sha : request->sha256()) {
    absl::StatusOr<BlobStat> stat = store_->Stat(sha);
    if (!stat.ok()) return Done(ctx, stat.status());
    v1::BlobStat* out = response->add_blobs();
    out->set_sha256(sha);
    out->set_stored(stat->stored);
    out->set_received_bytes(stat->received_bytes);
    out->set_size(stat->size);
    out->set_served_bytes(stat->served_bytes);
    out->set_uploads(stat->uploads);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerReadReactor<v1::UploadChunk>* StoreService::UploadBlob(
    grpc::CallbackServerContext* ctx, v1::UploadBlobResponse* response) {
  return new UploadReactor(store_, &verifier_, response,
                           Allowed(*ctx, client_auth_));
}

grpc::ServerWriteReactor<v1::BlobBlock>* StoreService::ReadBlob(
    grpc::CallbackServerContext* ctx, const v1::ReadBlobRequest* request) {
  return new BlobReadReactor(store_, *request, Allowed(*ctx, worker_auth_));
}

grpc::ServerUnaryReactor* StoreService::ListOutputs(
    grpc::CallbackServerContext* ctx, const v1::ListOutputsRequest* request,
    v1::ListOutputsResponse* response) {
  if (absl::Status st = Allowed(*ctx, client_auth_); !st.ok()) {
    return Done(ctx, st);
  }
  absl::StatusOr<std::vector<OutputFileInfo>> files =
      outputs_->List(request->job_id());
  if (!files.ok()) return Done(ctx, files.status());
  for (const OutputFileInfo& f : *files) {
    v1::OutputFile* out = response->add_files();
    out->set_name(f.name);
    out->set_size(f.size);
  }
  return Done(ctx, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::DataChunk>* StoreService::ReadOutput(
    grpc::CallbackServerContext* ctx, const v1::ReadOutputRequest* request) {
  return new OutputReadReactor(outputs_, *request, Allowed(*ctx, client_auth_));
}

}  // namespace shardex
