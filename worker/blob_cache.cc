#include "worker/blob_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace shardex {

namespace {

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

}  // namespace

absl::StatusOr<std::unique_ptr<BlobCache>> BlobCache::Open(
    Options options, BlobFetcher* fetcher) {
  BlobDir dir(options.dir);
  ASSIGN_OR_RETURN(UniqueFd lock, dir.Lock());
  ASSIGN_OR_RETURN(std::vector<StoredBlob> stored, dir.Scan());
  std::unique_ptr<BlobCache> cache(
      new BlobCache(std::move(options), fetcher, std::move(lock)));
  cache->Load(std::move(stored));
  return cache;
}

std::string BlobCache::DataPath(const std::string& sha256) const {
  return dir_.DataPath(sha256);
}

void BlobCache::Load(std::vector<StoredBlob> stored) {
  absl::MutexLock lock(&mu_);
  for (StoredBlob& s : stored) {  // least recently used first
    auto entry = std::make_shared<Entry>();
    entry->size = s.blob.size;
    entry->present = std::move(s.present);
    for (size_t i = 0; i < entry->present.size(); ++i) {
      if (entry->present[i]) {
        entry->present_bytes += BlockLength(entry->size, i);
      }
    }
    entry->last_use = ++tick_;
    stats_.bytes_present += entry->present_bytes;
    blobs_[s.blob.sha256] = std::move(entry);
  }
  if (!stored.empty()) {
    LOG(INFO) << "blob cache " << dir_.dir() << ": " << stored.size()
              << " blobs, " << stats_.bytes_present << " bytes present";
  }
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
  // Under the lock (small files, once per blob): a second Add must find
  // the files made.
  RETURN_IF_ERROR(dir_.Create(blob));
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
  ASSIGN_OR_RETURN(UniqueFd fd, dir_.OpenForWriting(blob.sha256));
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
  std::vector<bool> present;
  {
    absl::MutexLock lock(&mu_);
    present = entry->present;
  }
  return dir_.WriteRecord(sha256, present);
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
  dir_.Remove(it->first);
  stats_.bytes_present -= it->second->present_bytes;
  blobs_.erase(it);
}

BlobCache::Stats BlobCache::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace shardex
