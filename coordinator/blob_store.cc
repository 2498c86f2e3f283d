#include "coordinator/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "common/unique_fd.h"
#include "coordinator/blob_file_io.h"

namespace shardex {
namespace {

absl::Status BadName(const std::string& sha) {
  return absl::InvalidArgumentError(absl::StrCat(
      "'", sha.substr(0, 80),
      "' is not a blob name (64 lower-case hex digits of a SHA-256)"));
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

BlobStore::BlobStore(std::string dir, const BlobStoreLimits& limits,
                     Clock* clock)
    : dir_(std::move(dir)), limits_(limits), clock_(clock) {}

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(
    const std::string& dir, const BlobStoreLimits& limits, Clock* clock) {
  for (const char* sub : {"/blobs", "/partial"}) {
    if (absl::Status st = MakeDirs(dir + sub, 0700, "blob store"); !st.ok()) {
      return st;
    }
  }
  std::unique_ptr<BlobStore> store(new BlobStore(dir, limits, clock));
  if (absl::Status st = store->Scan(); !st.ok()) return st;
  return store;
}

absl::Status BlobStore::Scan() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const std::string& name : ListDir(dir_ + "/blobs")) {
    const std::string path = dir_ + "/blobs/" + name;
    if (IsBlobId(name)) {
      const uint64_t size = FileSize(path);
      // Without its block hashes (or with too few) it cannot be served.
      if (FileSize(BlocksPath(name)) !=
          BlobBlocks(size) * blob_io::kHashBytes) {
        unlink(path.c_str());
        unlink(BlocksPath(name).c_str());
        continue;
      }
      Entry& e = entries_[name];
      e.stored = true;
      e.size = size;
      e.written = now;
      used_ += size;
    } else if (!absl::EndsWith(name, ".blocks") ||
               !IsBlobId(name.substr(0, name.size() - 7))) {
      unlink(path.c_str());  // a temporary file of an interrupted write
    }
  }
  for (const std::string& name : ListDir(dir_ + "/blobs")) {
    if (absl::EndsWith(name, ".blocks") &&
        !entries_.contains(name.substr(0, name.size() - 7))) {
      unlink((dir_ + "/blobs/" + name).c_str());
    }
  }
  for (const std::string& name : ListDir(dir_ + "/partial")) {
    const std::string path = dir_ + "/partial/" + name;
    auto it = entries_.find(name);
    if (!IsBlobId(name) || (it != entries_.end() && it->second.stored)) {
      unlink(path.c_str());
      continue;
    }
    Entry& e = entries_[name];
    e.has_partial = true;
    e.partial_bytes = FileSize(path);
    e.written = now;
    used_ += e.partial_bytes;
  }
  return absl::OkStatus();
}

std::string BlobStore::BlobPath(const std::string& sha) const {
  return absl::StrCat(dir_, "/blobs/", sha);
}
std::string BlobStore::BlocksPath(const std::string& sha) const {
  return absl::StrCat(dir_, "/blobs/", sha, ".blocks");
}
std::string BlobStore::PartialPath(const std::string& sha) const {
  return absl::StrCat(dir_, "/partial/", sha);
}

absl::StatusOr<BlobStat> BlobStore::Stat(const std::string& sha) const {
  if (!IsBlobId(sha)) return BadName(sha);
  absl::MutexLock lock(&mu_);
  BlobStat s;
  auto it = entries_.find(sha);
  if (it == entries_.end()) return s;
  const Entry& e = it->second;
  s.stored = e.stored;
  s.size = e.stored ? e.size : 0;
  s.received_bytes = e.stored ? e.size : e.partial_bytes;
  s.served_bytes = e.served;
  s.uploads = e.uploads;
  return s;
}

bool BlobStore::IsStored(const std::string& sha) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(sha);
  return it != entries_.end() && it->second.stored;
}

std::string BlobStore::PathOf(const std::string& sha) const {
  return IsBlobId(sha) ? BlobPath(sha) : "";
}

uint64_t BlobStore::used_bytes() const {
  absl::MutexLock lock(&mu_);
  return used_;
}

uint64_t BlobStore::Committed() const {
  uint64_t total = used_;
  for (const auto& [sha, e] : entries_) {
    if (e.uploading) total += e.announced - e.partial_bytes;
  }
  return total;
}

absl::Status BlobStore::CheckRoom(const std::string& sha, uint64_t size,
                                  uint64_t more, uint64_t released) {
  if (size > limits_.max_store_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "blob ", sha, " is ", size,
        " bytes, more than the coordinator's whole store may hold (",
        limits_.max_store_bytes,
        " bytes; raise it with shardex coordinator --max-store-bytes)"));
  }
  if (size > limits_.max_upload_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("blob ", sha, " is ", size,
                     " bytes, more than the coordinator's "
                     "limit of ",
                     limits_.max_upload_bytes,
                     " bytes per file (raise it with shardex coordinator "
                     "--max-upload-bytes)"));
  }
  if (Committed() - released + more <= limits_.max_store_bytes) {
    return absl::OkStatus();
  }
  CollectLocked(&sha);
  if (Committed() - released + more <= limits_.max_store_bytes) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "the coordinator's store holds ", Committed() - released,
      " bytes and blob ", sha, " needs ", more, " more, beyond its limit of ",
      limits_.max_store_bytes,
      " bytes (raise it with shardex coordinator --max-store-bytes, or wait "
      "for old jobs to be forgotten)"));
}

absl::StatusOr<std::unique_ptr<BlobUpload>> BlobStore::BeginUpload(
    const std::string& sha, uint64_t size, uint64_t offset) {
  if (!IsBlobId(sha)) return BadName(sha);
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[sha];
  if (e.stored) {
    return std::unique_ptr<BlobUpload>(
        new BlobUpload(this, sha, e.size, e.size, UniqueFd(), true));
  }
  if (e.uploading) {
    return absl::UnavailableError(absl::StrCat("another upload of ", sha,
                                               " is in progress; retry later"));
  }
  const uint64_t have = e.has_partial ? e.partial_bytes : 0;
  if (offset != 0 && offset != have) {
    return absl::FailedPreconditionError(absl::StrCat(
        "upload of ", sha, " at offset ", offset, ": the coordinator has ",
        have, " bytes of it; resume at ", have, " or start at 0"));
  }
  if (offset > size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upload of ", sha, ": offset ", offset, " is past its size ", size));
  }
  // A restart from 0 replaces the partial copy, freeing its bytes.
  const uint64_t kept = offset;
  if (absl::Status st = CheckRoom(sha, size, size - kept, have - kept);
      !st.ok()) {
    return st;
  }
  const std::string path = PartialPath(sha);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (kept == 0 ? O_TRUNC : 0);
  UniqueFd fd(open(path.c_str(), flags, 0600));
  if (!fd.valid()) return ErrnoError("cannot open", path);
  if (lseek(fd.get(), static_cast<off_t>(kept), SEEK_SET) < 0) {
    return ErrnoError("cannot seek in", path);
  }
  used_ -= have - kept;
  e.has_partial = true;
  e.partial_bytes = kept;
  e.uploading = true;
  e.announced = size;
  e.written = clock_->Now();
  return std::unique_ptr<BlobUpload>(
      new BlobUpload(this, sha, size, kept, std::move(fd), false));
}

void BlobStore::Appended(const std::string& sha, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[sha];
  e.partial_bytes += bytes;
  e.written = clock_->Now();
  used_ += bytes;
}

void BlobStore::EndUpload(const std::string& sha, bool discard_partial) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[sha];
  e.uploading = false;
  e.announced = 0;
  if (discard_partial && e.has_partial) {
    unlink(PartialPath(sha).c_str());
    used_ -= e.partial_bytes;
    e.has_partial = false;
    e.partial_bytes = 0;
  }
}

void BlobStore::Completed(const std::string& sha, uint64_t size) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[sha];
  e.uploading = false;
  e.announced = 0;
  e.has_partial = false;
  e.partial_bytes = 0;
  e.stored = true;
  e.size = size;
  e.written = clock_->Now();
  ++e.uploads;
}

absl::StatusOr<std::unique_ptr<BlobReader>> BlobStore::OpenReader(
    const std::string& sha, uint64_t offset, uint64_t length) {
  if (!IsBlobId(sha)) return BadName(sha);
  if (offset % kBlobBlockBytes != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("read of ", sha, " at ", offset,
                     ": not a multiple of the block size ", kBlobBlockBytes));
  }
  uint64_t size = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(sha);
    if (it == entries_.end() || !it->second.stored) {
      return absl::NotFoundError(absl::StrCat(
          "the coordinator does not store blob ", sha,
          " (not uploaded, or collected after its jobs were forgotten)"));
    }
    size = it->second.size;
  }
  if (offset > size || (offset == size && size > 0)) {
    return absl::OutOfRangeError(absl::StrCat(
        "read of ", sha, " at ", offset, ": the blob has ", size, " bytes"));
  }
  uint64_t end = size;
  if (length > 0 && length < size - offset) {
    end = std::min(size, offset + BlobBlocks(length) * kBlobBlockBytes);
  }
  UniqueFd data(open(BlobPath(sha).c_str(), O_RDONLY | O_CLOEXEC));
  if (!data.valid()) return ErrnoError("cannot open", BlobPath(sha));
  UniqueFd blocks(open(BlocksPath(sha).c_str(), O_RDONLY | O_CLOEXEC));
  if (!blocks.valid()) return ErrnoError("cannot open", BlocksPath(sha));
  return std::unique_ptr<BlobReader>(new BlobReader(
      this, sha, std::move(data), std::move(blocks), offset, end, size));
}

absl::Status BlobStore::ReadBlocks(
    const std::string& sha, uint64_t offset, uint64_t length,
    const std::function<bool(const BlobBlockData&)>& fn) {
  absl::StatusOr<std::unique_ptr<BlobReader>> reader =
      OpenReader(sha, offset, length);
  if (!reader.ok()) return reader.status();
  while (!(*reader)->done()) {
    absl::StatusOr<BlobBlockData> block = (*reader)->Next();
    if (!block.ok()) return block.status();
    if (!fn(*block)) break;
  }
  return absl::OkStatus();
}

void BlobStore::Served(const std::string& sha, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  entries_[sha].served += bytes;
}

void BlobStore::Pin(uint64_t job_id, const std::vector<std::string>& shas) {
  absl::MutexLock lock(&mu_);
  auto it = pins_.find(job_id);
  if (it != pins_.end()) {
    for (const std::string& sha : it->second) --pin_counts_[sha];
  }
  std::vector<std::string>& pinned = pins_[job_id];
  pinned = shas;
  for (const std::string& sha : pinned) ++pin_counts_[sha];
}

void BlobStore::Unpin(uint64_t job_id) {
  absl::MutexLock lock(&mu_);
  auto it = pins_.find(job_id);
  if (it == pins_.end()) return;
  for (const std::string& sha : it->second) {
    if (--pin_counts_[sha] <= 0) pin_counts_.erase(sha);
  }
  pins_.erase(it);
}

uint64_t BlobStore::Collect() {
  absl::MutexLock lock(&mu_);
  return CollectLocked(nullptr);
}

uint64_t BlobStore::CollectLocked(const std::string* keep) {
  const absl::Time now = clock_->Now();
  uint64_t freed = 0;
  for (auto& [sha, e] : entries_) {
    if (pin_counts_.contains(sha) || e.uploading ||
        (keep != nullptr && sha == *keep) || now - e.written < kCollectGrace) {
      continue;
    }
    if (e.stored) {
      unlink(BlobPath(sha).c_str());
      unlink(BlocksPath(sha).c_str());
      freed += e.size;
      e.stored = false;
      e.size = 0;
    }
    if (e.has_partial) {
      unlink(PartialPath(sha).c_str());
      freed += e.partial_bytes;
      e.has_partial = false;
      e.partial_bytes = 0;
    }
  }
  used_ -= freed;
  return freed;
}

}  // namespace shardex
