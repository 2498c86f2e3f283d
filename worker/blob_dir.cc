#include "worker/blob_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace shardex {

namespace {

constexpr char kRecordSuffix[] = ".blocks";
constexpr char kLockName[] = "LOCK";
constexpr mode_t kDataMode = 0444;

std::string EncodeRecord(const std::vector<bool>& present) {
  std::string out(present.size(), '\0');
  for (size_t i = 0; i < present.size(); ++i) out[i] = present[i] ? 1 : 0;
  return out;
}

}  // namespace

uint64_t BlockLength(uint64_t size, uint64_t block) {
  return std::min(kBlobBlockBytes, size - block * kBlobBlockBytes);
}

std::string BlobDir::DataPath(const std::string& sha256) const {
  return absl::StrCat(dir_, "/", sha256);
}

std::string BlobDir::RecordPath(const std::string& sha256) const {
  return absl::StrCat(dir_, "/", sha256, kRecordSuffix);
}

absl::StatusOr<UniqueFd> BlobDir::Lock() const {
  RETURN_IF_ERROR(MakeDirs(dir_, 0755, "blob cache"));
  const std::string path = absl::StrCat(dir_, "/", kLockName);
  UniqueFd lock(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return ErrnoError("opening", path);
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("blob cache ", dir_, " is in use by another worker (",
                     strerror(errno), ")"));
  }
  return lock;
}

absl::StatusOr<std::vector<StoredBlob>> BlobDir::Scan() const {
  DIR* dir = opendir(dir_.c_str());
  if (dir == nullptr) return ErrnoError("listing", dir_);
  std::vector<std::pair<int64_t, StoredBlob>> found;  // by record mtime
  std::vector<std::string> junk;
  while (struct dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == kLockName) continue;
    std::string sha = name;
    if (absl::EndsWith(name, kRecordSuffix)) {
      sha = name.substr(0, name.size() - strlen(kRecordSuffix));
    }
    if (!IsBlobId(sha)) {
      junk.push_back(name);  // e.g. a record's temporary file
      continue;
    }
    struct stat data_st, rec_st;
    if (sha != name) {  // a record: checked with its data file, if any
      if (stat(DataPath(sha).c_str(), &data_st) != 0) junk.push_back(name);
      continue;
    }
    absl::StatusOr<std::string> record = ReadFile(RecordPath(sha));
    if (stat(DataPath(sha).c_str(), &data_st) != 0 || !record.ok() ||
        stat(RecordPath(sha).c_str(), &rec_st) != 0 ||
        record->size() != BlobBlocks(static_cast<uint64_t>(data_st.st_size))) {
      junk.push_back(sha);
      junk.push_back(absl::StrCat(sha, kRecordSuffix));
      continue;
    }
    StoredBlob blob{{sha, static_cast<uint64_t>(data_st.st_size)}, {}};
    for (char c : *record) blob.present.push_back(c != 0);
    found.emplace_back(rec_st.st_mtime, std::move(blob));
  }
  closedir(dir);
  for (const std::string& name : junk) {
    unlink(absl::StrCat(dir_, "/", name).c_str());
  }
  std::stable_sort(
      found.begin(), found.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<StoredBlob> blobs;
  for (auto& [mtime, blob] : found) blobs.push_back(std::move(blob));
  return blobs;
}

absl::Status BlobDir::Create(const BlobRef& blob) const {
  // Record first: a data file without one is deleted by Scan.
  RETURN_IF_ERROR(WriteRecord(blob.sha256,
                              std::vector<bool>(BlobBlocks(blob.size), false)));
  const std::string path = DataPath(blob.sha256);
  unlink(path.c_str());  // a leftover, perhaps read-only
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("creating", path);
  if (ftruncate(fd.get(), static_cast<off_t>(blob.size)) != 0) {
    return ErrnoError("sizing", path);
  }
  // Jobs read the data file in place: a command must not write into it.
  if (fchmod(fd.get(), kDataMode) != 0) return ErrnoError("chmod", path);
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> BlobDir::OpenForWriting(
    const std::string& sha256) const {
  const std::string path = DataPath(sha256);
  if (chmod(path.c_str(), kDataMode | S_IWUSR) != 0) {
    return ErrnoError("chmod", path);
  }
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  const int open_errno = errno;
  chmod(path.c_str(), kDataMode);
  if (!fd.valid()) {
    errno = open_errno;
    return ErrnoError("opening", path);
  }
  return fd;
}

absl::Status BlobDir::WriteRecord(const std::string& sha256,
                                  const std::vector<bool>& present) const {
  return WriteFileAtomically(RecordPath(sha256), EncodeRecord(present));
}

void BlobDir::Remove(const std::string& sha256) const {
  unlink(RecordPath(sha256).c_str());
  unlink(DataPath(sha256).c_str());
}

}  // namespace shardex
