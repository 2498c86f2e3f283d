#include "coordinator/blob_upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "coordinator/blob_file_io.h"
#include "coordinator/blob_store.h"

namespace shardex {

BlobUpload::BlobUpload(BlobStore* store, std::string sha, uint64_t size,
                       uint64_t received, UniqueFd fd, bool complete)
    : store_(store),
      sha_(std::move(sha)),
      size_(size),
      received_(received),
      fd_(std::move(fd)),
      complete_(complete),
      ended_(complete) {}

BlobUpload::~BlobUpload() {
  if (!ended_) store_->EndUpload(sha_, /*discard_partial=*/false);
}

absl::Status BlobUpload::Fail(absl::Status error) {
  fd_.Reset();
  ended_ = true;
  store_->EndUpload(sha_, /*discard_partial=*/true);
  return error;
}

absl::Status BlobUpload::Append(std::string_view data) {
  if (ended_) {
    if (complete_) return absl::OkStatus();  // already stored: ignored
    return absl::FailedPreconditionError(
        absl::StrCat("the upload of ", sha_, " has ended"));
  }
  if (data.size() > size_ - received_) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "upload of ", sha_, ": more data than its announced size of ", size_,
        " bytes; the partial copy was discarded, upload it again")));
  }
  if (absl::Status st =
          blob_io::WriteAll(fd_.get(), data, store_->PartialPath(sha_));
      !st.ok()) {
    return Fail(st);
  }
  received_ += data.size();
  store_->Appended(sha_, data.size());
  return absl::OkStatus();
}

absl::Status BlobUpload::Finish() {
  if (complete_) return absl::OkStatus();
  if (ended_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the upload of ", sha_, " has ended"));
  }
  if (received_ < size_) {
    return absl::FailedPreconditionError(
        absl::StrCat("upload of ", sha_, " ended at ", received_, " of ", size_,
                     " bytes; resume it at offset ", received_));
  }
  if (fsync(fd_.get()) != 0) {
    return Fail(ErrnoError("cannot flush", store_->PartialPath(sha_)));
  }
  fd_.Reset();
  if (absl::Status st = Install(); !st.ok()) return Fail(st);
  ended_ = true;
  store_->Completed(sha_, size_);
  complete_ = true;
  return absl::OkStatus();
}

absl::Status BlobUpload::Install() {
  // Hash the whole partial file (written by one or more uploads) and
  // record each block's hash on the way. No lock: the upload owns it.
  const std::string partial = store_->PartialPath(sha_);
  const std::string blocks = store_->BlocksPath(sha_);
  const std::string blob = store_->BlobPath(sha_);
  const std::string blocks_tmp = blocks + ".tmp";
  absl::Status st;
  {
    UniqueFd in(open(partial.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd out(open(blocks_tmp.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444));
    if (!in.valid()) st = ErrnoError("cannot open", partial);
    if (st.ok() && !out.valid()) st = ErrnoError("cannot create", blocks_tmp);
    Sha256Hasher whole;
    std::string hashes;
    uint64_t offset = 0;
    while (st.ok() && offset < size_) {
      absl::StatusOr<std::string> block =
          blob_io::ReadAt(in.get(), offset, kBlobBlockBytes, partial);
      if (!block.ok()) {
        st = block.status();
      } else if (block->empty()) {
        st = absl::DataLossError(absl::StrCat(partial, " is short"));
      } else {
        whole.Update(*block);
        hashes += Sha256Raw(*block);
        offset += block->size();
        if (hashes.size() >= 1024 * blob_io::kHashBytes || offset >= size_) {
          st = blob_io::WriteAll(out.get(), hashes, blocks_tmp);
          hashes.clear();
        }
      }
    }
    if (st.ok() && whole.FinishHex() != sha_) {
      st = absl::DataLossError(absl::StrCat(
          "the ", size_, " bytes uploaded as ", sha_,
          " have another SHA-256 (changed while being read, or corrupted in "
          "transit); the partial copy was discarded, upload it again"));
    }
    if (st.ok() && fsync(out.get()) != 0) {
      st = ErrnoError("cannot flush", blocks_tmp);
    }
  }
  if (st.ok() && rename(blocks_tmp.c_str(), blocks.c_str()) != 0) {
    st = ErrnoError("cannot rename to", blocks);
  }
  chmod(partial.c_str(), 0444);
  if (st.ok() && rename(partial.c_str(), blob.c_str()) != 0) {
    st = ErrnoError("cannot rename to", blob);
  }
  unlink(blocks_tmp.c_str());
  return st;
}

}  // namespace shardex
