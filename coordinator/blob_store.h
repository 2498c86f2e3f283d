// BlobStore: the coordinator's content-addressed file store
// (docs/staging.md). Files a client stages are kept once, named by the
// lower-case hex SHA-256 of their content, in the state directory:
//
//   DIR/blobs/<sha>         complete, verified, read-only (0444)
//   DIR/blobs/<sha>.blocks  the raw SHA-256 (32 bytes) of each 1 MiB block,
//                           recorded when the whole file was verified
//   DIR/partial/<sha>       an upload in progress (resumed where it ends)
//
// Uploads are streamed to disk (BlobUpload) and the whole file is hashed
// again when its last byte is in, since it may have been written by several
// resumed uploads; a mismatch discards the partial file. Reads go block by
// block (BlobReader), each block with its recorded hash. Nothing is held
// whole in memory. Reopening the directory finds the complete blobs and the
// partial uploads, which resume.
//
// Space: an upload larger than max_upload_bytes, or one that would take the
// store (complete blobs + partial files + what running uploads announced)
// beyond max_store_bytes even after Collect, is refused with
// RESOURCE_EXHAUSTED naming the coordinator flag. Jobs pin the blobs they
// name (Pin/Unpin); Collect deletes blobs and idle partial files that no
// pinned job refers to and that were not written within kCollectGrace (a
// job being submitted keeps the files just uploaded for it). Blobs found at
// Open count as written at Open.
//
// Names are checked with IsBlobId, so a name is never a path.
//
// BlobStore owns the index of names (stored, partial, uploading, served),
// the limits, the pins and collection; BlobUpload (blob_upload.h) writes
// an upload and BlobReader (blob_reader.h) reads blocks, reporting to it.
//
// Thread-safety: every method may be called from any thread; one mutex
// guards the index. File I/O of an upload or a read runs without it (a
// blob has at most one upload at a time). A BlobUpload or BlobReader is
// used by one thread at a time and must not outlive its store.
#ifndef SHARDEX_COORDINATOR_BLOB_STORE_H_
#define SHARDEX_COORDINATOR_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "coordinator/blob_reader.h"
#include "coordinator/blob_upload.h"

namespace shardex {

struct BlobStoreLimits {
  uint64_t max_store_bytes = uint64_t{64} << 30;   // --max-store-bytes
  uint64_t max_upload_bytes = uint64_t{64} << 30;  // --max-upload-bytes
};

// What StatBlobs answers for one blob.
struct BlobStat {
  bool stored = false;          // complete and verified
  uint64_t received_bytes = 0;  // of a partial upload: resume here
  uint64_t size = 0;            // when stored
  uint64_t served_bytes = 0;    // read by BlobReader since the store opened
  uint64_t uploads = 0;         // uploads completed since the store opened
};

class BlobStore {
 public:
  // Blobs and idle partial files written this recently are never collected.
  static constexpr absl::Duration kCollectGrace = absl::Hours(1);

  // Opens (creating) the store in `dir` (STATE/store). `clock` outlives it.
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(
      const std::string& dir, const BlobStoreLimits& limits, Clock* clock);

  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  const std::string& dir() const { return dir_; }
  const BlobStoreLimits& limits() const { return limits_; }

  // INVALID_ARGUMENT for a name that is not a blob id.
  absl::StatusOr<BlobStat> Stat(const std::string& sha) const;
  bool IsStored(const std::string& sha) const;
  // DIR/blobs/<sha>, whether or not it is stored (the planner checks
  // IsStored); "" for a name that is not a blob id.
  std::string PathOf(const std::string& sha) const;
  // Bytes of complete blobs and partial files.
  uint64_t used_bytes() const;

  // Starts (offset 0) or resumes (offset = Stat().received_bytes) the
  // upload of a `size`-byte blob. A stored blob gives a complete() upload.
  // FAILED_PRECONDITION for another offset, UNAVAILABLE while another
  // upload of the blob runs, RESOURCE_EXHAUSTED over a limit.
  absl::StatusOr<std::unique_ptr<BlobUpload>> BeginUpload(
      const std::string& sha, uint64_t size, uint64_t offset);

  // The blocks of [offset, offset + length) (length 0: to the end).
  // `offset` is a multiple of kBlobBlockBytes. NOT_FOUND if not stored,
  // OUT_OF_RANGE for an offset past the end.
  absl::StatusOr<std::unique_ptr<BlobReader>> OpenReader(const std::string& sha,
                                                         uint64_t offset,
                                                         uint64_t length);
  // OpenReader, then `fn` for each block until it returns false.
  absl::Status ReadBlocks(const std::string& sha, uint64_t offset,
                          uint64_t length,
                          const std::function<bool(const BlobBlockData&)>& fn);

  // Job `job_id` refers to `shas` (replacing what it pinned before).
  void Pin(uint64_t job_id, const std::vector<std::string>& shas);
  void Unpin(uint64_t job_id);

  // Deletes blobs and idle partial files that no pinned job names and
  // that were not written within kCollectGrace. Returns the bytes freed.
  uint64_t Collect();

 private:
  friend class BlobUpload;
  friend class BlobReader;

  // One name's state.
  struct Entry {
    bool stored = false;
    uint64_t size = 0;  // when stored
    bool has_partial = false;
    uint64_t partial_bytes = 0;
    bool uploading = false;
    uint64_t announced = 0;  // of a running upload: its size
    absl::Time written;      // completed, or the partial last written
    uint64_t served = 0;
    uint64_t uploads = 0;
  };

  BlobStore(std::string dir, const BlobStoreLimits& limits, Clock* clock);
  absl::Status Scan() ABSL_LOCKS_EXCLUDED(mu_);
  std::string BlobPath(const std::string& sha) const;
  std::string BlocksPath(const std::string& sha) const;
  std::string PartialPath(const std::string& sha) const;
  // RESOURCE_EXHAUSTED if a `size`-byte blob needing `more` bytes does not
  // fit once `released` bytes (a replaced partial copy) are freed.
  absl::Status CheckRoom(const std::string& sha, uint64_t size, uint64_t more,
                         uint64_t released) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t Committed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Collect, never touching `keep` (may be null).
  uint64_t CollectLocked(const std::string* keep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Called by BlobUpload: `bytes` more were written to the partial file;
  // the upload ended (discarding the partial file or keeping it); its file
  // was verified and moved into blobs/.
  void Appended(const std::string& sha, uint64_t bytes)
      ABSL_LOCKS_EXCLUDED(mu_);
  void EndUpload(const std::string& sha, bool discard_partial)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Completed(const std::string& sha, uint64_t size)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Called by BlobReader.
  void Served(const std::string& sha, uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string dir_;
  const BlobStoreLimits limits_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;  // blobs + partial files
  absl::flat_hash_map<uint64_t, std::vector<std::string>> pins_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> pin_counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_BLOB_STORE_H_
