#include "client/fake_store.h"

#include "absl/strings/str_cat.h"

namespace shardex {

void FakeStore::SetStored(const std::string& sha256, uint64_t size) {
  absl::MutexLock lock(&mu_);
  v1::BlobStat& b = blobs_[sha256];
  b.set_stored(true);
  b.set_size(size);
}

void FakeStore::SetPartial(const std::string& sha256, uint64_t received_bytes) {
  absl::MutexLock lock(&mu_);
  blobs_[sha256].set_received_bytes(received_bytes);
}

void FakeStore::FailUploads(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  upload_error_ = std::move(status);
}

void FakeStore::BreakNextUploadAfter(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  break_after_ = bytes;
}

std::vector<FakeStore::Upload> FakeStore::uploads() const {
  absl::MutexLock lock(&mu_);
  return uploads_;
}

std::vector<std::vector<std::string>> FakeStore::stat_requests() const {
  absl::MutexLock lock(&mu_);
  return stat_requests_;
}

void FakeStore::AddOutput(uint64_t job_id, const std::string& name,
                          const std::string& content) {
  absl::MutexLock lock(&mu_);
  outputs_[job_id].emplace_back(name, content);
}

void FakeStore::BreakOutput(const std::string& name) {
  absl::MutexLock lock(&mu_);
  broken_ = name;
}

void FakeStore::OnRead(std::function<void(const std::string&)> hook) {
  absl::MutexLock lock(&mu_);
  on_read_ = std::move(hook);
}

std::vector<std::string> FakeStore::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

int FakeStore::list_calls() const {
  absl::MutexLock lock(&mu_);
  return list_calls_;
}

grpc::Status FakeStore::StatBlobs(grpc::ServerContext*,
                                  const v1::StatBlobsRequest* req,
                                  v1::StatBlobsResponse* resp) {
  absl::MutexLock lock(&mu_);
  stat_requests_.emplace_back(req->sha256().begin(), req->sha256().end());
  for (const std::string& id : req->sha256()) {
    v1::BlobStat* b = resp->add_blobs();
    auto it = blobs_.find(id);
    if (it != blobs_.end()) *b = it->second;
    b->set_sha256(id);
  }
  return grpc::Status::OK;
}

grpc::Status FakeStore::UploadBlob(grpc::ServerContext*,
                                   grpc::ServerReader<v1::UploadChunk>* reader,
                                   v1::UploadBlobResponse* resp) {
  Upload up;
  v1::UploadChunk chunk;
  bool first = true;
  while (reader->Read(&chunk)) {
    if (first) {
      up.sha256 = chunk.sha256();
      up.size = chunk.size();
      up.offset = chunk.offset();
      first = false;
      absl::MutexLock lock(&mu_);
      if (!upload_error_.ok()) return upload_error_;
    }
    up.data += chunk.data();
    up.chunk_bytes.push_back(chunk.data().size());
    absl::MutexLock lock(&mu_);
    if (break_after_ > 0 && up.data.size() >= break_after_) {
      break_after_ = 0;
      blobs_[up.sha256].set_received_bytes(up.offset + up.data.size());
      uploads_.push_back(up);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "link broke");
    }
  }
  resp->set_size(up.size);
  absl::MutexLock lock(&mu_);
  uploads_.push_back(up);
  if (up.offset + up.data.size() == up.size) {
    blobs_[up.sha256].set_stored(true);
    blobs_[up.sha256].set_size(up.size);
  }
  return grpc::Status::OK;
}

grpc::Status FakeStore::ListOutputs(grpc::ServerContext*,
                                    const v1::ListOutputsRequest* req,
                                    v1::ListOutputsResponse* resp) {
  absl::MutexLock lock(&mu_);
  ++list_calls_;
  auto it = outputs_.find(req->job_id());
  if (it == outputs_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no job ", req->job_id()));
  }
  for (const auto& [name, content] : it->second) {
    v1::OutputFile* f = resp->add_files();
    f->set_name(name);
    f->set_size(content.size());
  }
  return grpc::Status::OK;
}

grpc::Status FakeStore::ReadOutput(grpc::ServerContext*,
                                   const v1::ReadOutputRequest* req,
                                   grpc::ServerWriter<v1::DataChunk>* writer) {
  std::string content;
  bool broken = false;
  std::function<void(const std::string&)> hook;
  {
    absl::MutexLock lock(&mu_);
    reads_.push_back(req->name());
    hook = on_read_;
    broken = broken_ == req->name();
    bool found = false;
    for (const auto& [name, data] : outputs_[req->job_id()]) {
      if (name == req->name()) {
        content = data;
        found = true;
      }
    }
    if (!found) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no output ", req->name()));
    }
  }
  if (hook) hook(req->name());
  v1::DataChunk chunk;
  if (broken) {
    chunk.set_data(content.substr(0, content.size() / 2));
    writer->Write(chunk);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "link broke");
  }
  chunk.set_data(content);
  writer->Write(chunk);
  return grpc::Status::OK;
}

}  // namespace shardex
