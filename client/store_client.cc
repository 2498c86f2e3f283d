#include "client/store_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/channel.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace shardex {

namespace {

// Reads up to `len` bytes at `offset`; fewer only at the end of the file.
absl::StatusOr<std::string> ReadAt(int fd, const std::string& path,
                                   uint64_t offset, uint64_t len) {
  std::string buf(len, '\0');
  uint64_t got = 0;
  while (got < len) {
    const ssize_t n = pread(fd, buf.data() + got, len - got, offset + got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) break;
    got += static_cast<uint64_t>(n);
  }
  buf.resize(got);
  return buf;
}

absl::Status WriteAll(int fd, const std::string& path,
                      const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return path.substr(0, slash + 1);
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string PartialDownloadPath(const std::string& dest) {
  return absl::StrCat(Dirname(dest), ".", Basename(dest), ".shardex-part");
}

StoreClient::StoreClient(CoordinatorClient& client) : client_(client) {
  if (client_.channel() != nullptr) {
    stub_ = v1::Store::NewStub(client_.channel());
  }
}

absl::StatusOr<std::vector<v1::BlobStat>> StoreClient::StatBlobs(
    const std::vector<std::string>& sha256) {
  if (stub_ == nullptr) return client_.channel_error();
  v1::StatBlobsRequest req;
  for (const std::string& id : sha256) req.add_sha256(id);
  v1::StatBlobsResponse resp;
  absl::Status st = client_.Call([&](grpc::ClientContext* ctx) {
    return stub_->StatBlobs(ctx, req, &resp);
  });
  if (!st.ok()) return st;
  if (resp.blobs_size() != req.sha256_size()) {
    return absl::InternalError(
        absl::StrCat("the coordinator answered StatBlobs for ",
                     resp.blobs_size(), " of ", req.sha256_size(), " blobs"));
  }
  return std::vector<v1::BlobStat>(resp.blobs().begin(), resp.blobs().end());
}

absl::Status StoreClient::Upload(const std::string& path,
                                 const std::string& sha256, uint64_t size,
                                 uint64_t offset,
                                 const UploadProgress& progress) {
  if (stub_ == nullptr) return client_.channel_error();
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open", path);
  grpc::ClientContext ctx;  // no deadline: see the header
  AddTokenMetadata(client_.options().token, &ctx);
  v1::UploadBlobResponse resp;
  auto writer = stub_->UploadBlob(&ctx, &resp);
  v1::UploadChunk chunk;
  chunk.set_sha256(sha256);
  chunk.set_size(size);
  chunk.set_offset(offset);
  uint64_t sent = offset;
  absl::Status local;  // a failure on this side
  bool first = true;
  while (first || sent < size) {
    const uint64_t len = std::min<uint64_t>(kBlobBlockBytes, size - sent);
    absl::StatusOr<std::string> data = ReadAt(fd.get(), path, sent, len);
    if (!data.ok()) {
      local = data.status();
      break;
    }
    if (data->size() != len) {
      local = absl::FailedPreconditionError(
          absl::StrCat(path, " changed while it was being uploaded: it had ",
                       size, " bytes and now ends at ", sent + data->size()));
      break;
    }
    chunk.set_data(*std::move(data));
    if (!writer->Write(chunk)) break;  // the coordinator ended the stream
    first = false;
    sent += len;
    chunk.Clear();
    if (progress) progress(sent);
  }
  if (!local.ok()) {
    ctx.TryCancel();
    writer->Finish();
    return local;
  }
  writer->WritesDone();
  const grpc::Status st = writer->Finish();
  if (!st.ok()) return client_.Explain(st);
  if (sent < size) {
    return absl::UnavailableError(
        absl::StrCat("the coordinator ended the upload of ", path, " at ", sent,
                     " of ", size, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::OutputFile>> StoreClient::ListOutputs(
    uint64_t job_id) {
  if (stub_ == nullptr) return client_.channel_error();
  v1::ListOutputsRequest req;
  req.set_job_id(job_id);
  v1::ListOutputsResponse resp;
  absl::Status st = client_.Call([&](grpc::ClientContext* ctx) {
    return stub_->ListOutputs(ctx, req, &resp);
  });
  if (!st.ok()) return st;
  return std::vector<v1::OutputFile>(resp.files().begin(), resp.files().end());
}

absl::Status StoreClient::ReadOutput(uint64_t job_id, const std::string& name,
                                     const std::string& dest) {
  if (stub_ == nullptr) return client_.channel_error();
  const std::string temp = PartialDownloadPath(dest);
  UniqueFd fd(
      open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot create", temp);
  grpc::ClientContext ctx;  // no deadline: see the header
  AddTokenMetadata(client_.options().token, &ctx);
  v1::ReadOutputRequest req;
  req.set_job_id(job_id);
  req.set_name(name);
  auto reader = stub_->ReadOutput(&ctx, req);
  v1::DataChunk chunk;
  absl::Status st;
  while (reader->Read(&chunk)) {
    st = WriteAll(fd.get(), temp, chunk.data());
    if (!st.ok()) break;
  }
  if (!st.ok()) ctx.TryCancel();
  const grpc::Status finished = reader->Finish();
  if (st.ok() && !finished.ok()) st = client_.Explain(finished);
  // A full disk may show only now: sync before the name goes live.
  if (st.ok() && fdatasync(fd.get()) != 0)
    st = ErrnoError("cannot write", temp);
  fd.Reset();
  if (st.ok() && rename(temp.c_str(), dest.c_str()) != 0) {
    st = ErrnoError(absl::StrCat("cannot rename ", temp, " to"), dest);
  }
  if (!st.ok()) unlink(temp.c_str());
  return st;
}

}  // namespace shardex
