#include "worker/blob_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace shardex {

namespace {

constexpr char kRecordSuffix[] = ".blocks";

uint64_t BlockLength(uint64_t size, uint64_t block) {
  return std::min(kBlobBlockBytes, size - block * kBlobBlockBytes);
}

absl::Status PreadAll(int fd, uint64_t offset, size_t len, char* buf,
                      const std::string& path) {
  while (len > 0) {
    const ssize_t n = pread(fd, buf, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("reading", path);
    buf += n;
    offset += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status PwriteAll(int fd, uint64_t offset, std::string_view data,
                       const std::string& path) {
  while (!data.empty()) {
    const ssize_t n =
        pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("writing", path);
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// Data files are read-only: only the cache writes them, through a
// descriptor opened while it briefly allows itself to.
constexpr mode_t kDataMode = 0444;

absl::StatusOr<UniqueFd> OpenForWriting(const std::string& path) {
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

// The record's bytes for `present`.
std::string EncodeRecord(const std::vector<bool>& present) {
  std::string out(present.size(), '\0');
  for (size_t i = 0; i < present.size(); ++i) out[i] = present[i] ? 1 : 0;
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlobCache>> BlobCache::Open(
    Options options, BlobFetcher* fetcher) {
  RETURN_IF_ERROR(MakeDirs(options.dir, 0755, "blob cache"));
  const std::string lock_path = absl::StrCat(options.dir, "/LOCK");
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return ErrnoError("opening", lock_path);
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("blob cache ", options.dir,
                     " is in use by another worker (", strerror(errno), ")"));
  }
  std::unique_ptr<BlobCache> cache(
      new BlobCache(std::move(options), fetcher, std::move(lock)));
  RETURN_IF_ERROR(cache->Load());
  return cache;
}

std::string BlobCache::DataPath(const std::string& sha256) const {
  return absl::StrCat(options_.dir, "/", sha256);
}

std::string BlobCache::RecordPath(const std::string& sha256) const {
  return absl::StrCat(options_.dir, "/", sha256, kRecordSuffix);
}

absl::Status BlobCache::Load() {
  DIR* dir = opendir(options_.dir.c_str());
  if (dir == nullptr) return ErrnoError("listing", options_.dir);
  std::vector<std::pair<int64_t, std::string>> found;  // (mtime, sha)
  std::vector<std::string> junk;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == "LOCK") continue;
    std::string sha = name;
    if (absl::EndsWith(name, kRecordSuffix)) {
      sha = name.substr(0, name.size() - strlen(kRecordSuffix));
    }
    if (!IsBlobId(sha)) {
      junk.push_back(name);  // e.g. a record's temporary file
      continue;
    }
    if (sha != name) continue;  // found with its data file
    struct stat data_st, rec_st;
    absl::StatusOr<std::string> record = ReadFile(RecordPath(sha));
    if (stat(DataPath(sha).c_str(), &data_st) != 0 || !record.ok() ||
        stat(RecordPath(sha).c_str(), &rec_st) != 0 ||
        record->size() != BlobBlocks(static_cast<uint64_t>(data_st.st_size))) {
      junk.push_back(sha);
      junk.push_back(absl::StrCat(sha, kRecordSuffix));
      continue;
    }
    auto entry = std::make_shared<Entry>();
    entry->size = static_cast<uint64_t>(data_st.st_size);
    entry->present.resize(record->size());
    for (size_t i = 0; i < record->size(); ++i) {
      entry->present[i] = (*record)[i] != 0;
      if (entry->present[i]) {
        entry->present_bytes += BlockLength(entry->size, i);
      }
    }
    found.emplace_back(rec_st.st_mtime, sha);
    absl::MutexLock lock(&mu_);
    stats_.bytes_present += entry->present_bytes;
    blobs_[sha] = std::move(entry);
  }
  closedir(dir);
  for (const std::string& name : junk) {
    unlink(absl::StrCat(options_.dir, "/", name).c_str());
  }
  // Least recently used first, by when their records were last written.
  std::sort(found.begin(), found.end());
  absl::MutexLock lock(&mu_);
  for (const auto& [mtime, sha] : found) blobs_[sha]->last_use = ++tick_;
  if (!found.empty()) {
    LOG(INFO) << "blob cache " << options_.dir << ": " << found.size()
              << " blobs, " << stats_.bytes_present << " bytes present";
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<BlobCache::Entry>> BlobCache::FindOrCreate(
    const BlobRef& blob) {
  if (!IsBlobId(blob.sha256)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a blob name: '", blob.sha256, "'"));
  }
  auto it = blobs_.find(blob.sha256);
  if (it != blobs_.end()) {
    if (it->second->size != blob.size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "blob ", blob.sha256, " is cached with ", it->second->size,
          " bytes, but the job says ", blob.size));
    }
    it->second->last_use = ++tick_;
    return it->second;
  }
  // Record first: a data file without one is dropped by Load.
  const std::string path = DataPath(blob.sha256);
  RETURN_IF_ERROR(WriteFileAtomically(
      RecordPath(blob.sha256),
      EncodeRecord(std::vector<bool>(BlobBlocks(blob.size), false))));
  unlink(path.c_str());  // a leftover, perhaps read-only
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("creating", path);
  if (ftruncate(fd.get(), static_cast<off_t>(blob.size)) != 0) {
    return ErrnoError("sizing", path);
  }
  // Jobs read the data file in place: a command must not write into it.
  if (fchmod(fd.get(), kDataMode) != 0) return ErrnoError("chmod", path);
  auto entry = std::make_shared<Entry>();
  entry->size = blob.size;
  entry->present.assign(BlobBlocks(blob.size), false);
  entry->last_use = ++tick_;
  blobs_[blob.sha256] = entry;
  return entry;
}

absl::StatusOr<std::string> BlobCache::Add(uint64_t job_id,
                                           const BlobRef& blob) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, FindOrCreate(blob));
  pins_by_job_[job_id].push_back(blob.sha256);
  ++pins_[blob.sha256];
  return DataPath(blob.sha256);
}

void BlobCache::UnpinJob(uint64_t job_id) {
  absl::MutexLock lock(&mu_);
  auto it = pins_by_job_.find(job_id);
  if (it == pins_by_job_.end()) return;
  for (const std::string& sha : it->second) {
    if (--pins_[sha] > 0) continue;
    pins_.erase(sha);
    // A blob the job never read costs no space but would stay forever.
    auto blob = blobs_.find(sha);
    if (blob != blobs_.end() && blob->second->present_bytes == 0 &&
        blob->second->users == 0) {
      Remove(blob);
    }
  }
  pins_by_job_.erase(it);
}

absl::StatusOr<std::shared_ptr<BlobCache::Entry>> BlobCache::Use(
    const BlobRef& blob) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, FindOrCreate(blob));
  ++entry->users;
  return entry;
}

void BlobCache::Release(const std::shared_ptr<Entry>& entry) {
  absl::MutexLock lock(&mu_);
  --entry->users;
}

absl::Status BlobCache::EnsureRange(const BlobRef& blob, uint64_t offset,
                                    uint64_t length, const StopFlag* cancel) {
  if (length == 0 || offset >= blob.size) return absl::OkStatus();
  const uint64_t last_byte = std::min(blob.size, offset + length) - 1;
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Use(blob));
  absl::Status st = EnsureBlocks(blob, entry.get(), offset / kBlobBlockBytes,
                                 last_byte / kBlobBlockBytes, cancel);
  Release(entry);
  EvictIfOver();
  return st;
}

absl::Status BlobCache::EnsureWhole(const BlobRef& blob,
                                    const StopFlag* cancel) {
  if (blob.size == 0) {  // no blocks, but the (empty) file must exist
    ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Use(blob));
    Release(entry);
    return absl::OkStatus();
  }
  return EnsureRange(blob, 0, blob.size, cancel);
}

absl::Status BlobCache::EnsureLineRange(const BlobRef& blob, uint64_t begin,
                                        uint64_t end, const StopFlag* cancel) {
  end = std::min(end, blob.size);
  if (end == 0 || begin > end) return absl::OkStatus();  // reads nothing
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Use(blob));
  const uint64_t first = (begin > 0 ? begin - 1 : 0) / kBlobBlockBytes;
  uint64_t last = std::min(end, blob.size - 1) / kBlobBlockBytes;
  const uint64_t blocks = BlobBlocks(blob.size);
  absl::Status st = EnsureBlocks(blob, entry.get(), first, last, cancel);
  // The line that ends the shard may go on past `last`.
  for (uint64_t from = end - 1; st.ok(); from = last * kBlobBlockBytes) {
    absl::StatusOr<bool> found = NewlineIn(blob, from, last);
    if (!found.ok()) st = found.status();
    if (!st.ok() || *found || last + 1 >= blocks) break;
    ++last;
    st = EnsureBlocks(blob, entry.get(), last, last, cancel);
  }
  Release(entry);
  EvictIfOver();
  return st;
}

absl::StatusOr<bool> BlobCache::NewlineIn(const BlobRef& blob, uint64_t from,
                                          uint64_t block) const {
  const uint64_t block_end =
      block * kBlobBlockBytes + BlockLength(blob.size, block);
  if (from >= block_end) return false;
  const std::string path = DataPath(blob.sha256);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("opening", path);
  std::string buf(block_end - from, '\0');
  RETURN_IF_ERROR(PreadAll(fd.get(), from, buf.size(), buf.data(), path));
  return buf.find('\n') != std::string::npos;
}

absl::Status BlobCache::EnsureBlocks(const BlobRef& blob, Entry* entry,
                                     uint64_t first, uint64_t last,
                                     const StopFlag* cancel) {
  absl::MutexLock fetch_lock(&entry->fetch_mu);
  // Runs of missing blocks, as [begin, end) pairs.
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  {
    absl::MutexLock lock(&mu_);
    for (uint64_t b = first; b <= last; ++b) {
      if (entry->present[b]) {
        ++stats_.blocks_from_cache;
      } else if (!runs.empty() && runs.back().second == b) {
        runs.back().second = b + 1;
      } else {
        runs.emplace_back(b, b + 1);
      }
    }
  }
  if (runs.empty()) return absl::OkStatus();
  const std::string path = DataPath(blob.sha256);
  ASSIGN_OR_RETURN(UniqueFd fd, OpenForWriting(path));
  absl::Status st;
  for (const auto& [begin, end] : runs) {
    st = FetchRun(blob, entry, fd.get(), begin, end - begin, cancel);
    if (!st.ok()) break;
  }
  // Whatever arrived is kept, even if a later block failed.
  if (fdatasync(fd.get()) != 0 && st.ok()) st = ErrnoError("syncing", path);
  absl::Status recorded = WriteRecord(blob.sha256, entry);
  return st.ok() ? recorded : st;
}

absl::Status BlobCache::FetchRun(const BlobRef& blob, Entry* entry, int fd,
                                 uint64_t first, uint64_t count,
                                 const StopFlag* cancel) {
  uint64_t next = first;
  const std::string path = DataPath(blob.sha256);
  absl::Status st = fetcher_->Fetch(
      blob.sha256, blob.size, first, count,
      [&](uint64_t index, std::string_view data,
          std::string_view sha256) -> absl::Status {
        if (cancel != nullptr && cancel->load()) {
          return absl::CancelledError("cancelled");
        }
        if (index != next || index >= first + count) {
          return absl::DataLossError(absl::StrCat("blob ", blob.sha256,
                                                  ": got block ", index,
                                                  ", expected ", next));
        }
        if (data.size() != BlockLength(blob.size, index) ||
            Sha256Raw(data) != sha256) {
          return absl::DataLossError(
              absl::StrCat("blob ", blob.sha256, ": block ", index,
                           " does not match its recorded SHA-256"));
        }
        RETURN_IF_ERROR(PwriteAll(fd, index * kBlobBlockBytes, data, path));
        ++next;
        absl::MutexLock lock(&mu_);
        entry->present[index] = true;
        entry->present_bytes += data.size();
        stats_.bytes_present += data.size();
        stats_.bytes_fetched += data.size();
        ++stats_.blocks_fetched;
        return absl::OkStatus();
      });
  if (st.ok() && next != first + count) {
    st = absl::DataLossError(absl::StrCat("blob ", blob.sha256, ": got ",
                                          next - first, " of ", count,
                                          " blocks from block ", first));
  }
  if (!st.ok() && !absl::StrContains(st.message(), blob.sha256)) {
    st = absl::Status(st.code(), absl::StrCat("fetching blob ", blob.sha256,
                                              ": ", st.message()));
  }
  return st;
}

absl::Status BlobCache::WriteRecord(const std::string& sha256, Entry* entry) {
  std::string record;
  {
    absl::MutexLock lock(&mu_);
    record = EncodeRecord(entry->present);
  }
  return WriteFileAtomically(RecordPath(sha256), record);
}

void BlobCache::EvictIfOver() {
  absl::MutexLock lock(&mu_);
  while (stats_.bytes_present > options_.max_bytes) {
    auto victim = blobs_.end();
    for (auto it = blobs_.begin(); it != blobs_.end(); ++it) {
      const Entry& e = *it->second;
      if (e.users > 0 || e.present_bytes == 0 || pins_.contains(it->first)) {
        continue;
      }
      if (victim == blobs_.end() || e.last_use < victim->second->last_use) {
        victim = it;
      }
    }
    if (victim == blobs_.end()) {
      LOG(WARNING) << "blob cache holds " << stats_.bytes_present
                   << " bytes, over its cap of " << options_.max_bytes
                   << " (--cache-bytes), but every blob is in use";
      return;
    }
    ++stats_.blobs_evicted;
    Remove(victim);
  }
}

void BlobCache::Remove(BlobMap::iterator it) {
  // Under the lock: a new Add of the same blob must not find its files half
  // gone.
  unlink(RecordPath(it->first).c_str());
  unlink(DataPath(it->first).c_str());
  stats_.bytes_present -= it->second->present_bytes;
  blobs_.erase(it);
}

BlobCache::Stats BlobCache::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace shardex
