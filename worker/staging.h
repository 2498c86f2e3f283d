// JobStager: makes a job's staged files (docs/staging.md) usable on this
// worker, so that kernels and the command runner read local files
// unchanged.
//
// For a JobDefinition with staged files and !shared_fs:
//   Prepare   localizes it: every input path it names (a kernel's is_path,
//             non-output arguments, '\n'-separated; command.inputs;
//             command.lines) becomes the path of that blob's data file in
//             the BlobCache, created full-size and pinned for the job;
//   BeforeShard  makes present what the shard reads: the per-file line
//             ranges of a kernel's virtual input stream (kernels/
//             input_split.h), the line range of --lines, the whole file of
//             its --inputs entry; and for a job with --upload files,
//             materialises once SCRATCH/jobs/<job>/upload (upload_tree.h)
//             and hands out the links for the shard's working directory;
//   Forget    when the job has ended: removes its job dir, unpins its blobs.
// With shared_fs, paths stay as they are, but one this worker cannot open
// fails with "worker host H cannot open 'P': ..." so the user knows where.
// Without staged files nothing changes.
//
// Thread-safety: all methods are safe from any thread. A job's uploads are
// materialised under a per-job lock (other shards of the job wait for it);
// the stager's own lock is never held during a fetch or file I/O.
#ifndef SHARDEX_WORKER_STAGING_H_
#define SHARDEX_WORKER_STAGING_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/process_runner.h"
#include "proto/shardex.pb.h"
#include "worker/blob_cache.h"
#include "worker/upload_tree.h"

namespace shardex {

// A job as this worker runs it.
struct StagedJob {
  uint64_t job_id = 0;
  shardex::v1::JobDefinition local;   // paths replaced when staged
  bool staged = false;                // files come from the cache
  std::vector<BlobRef> kernel_files;  // the kernel's input stream, in order
  std::vector<BlobRef> inputs;        // command.inputs
  std::optional<BlobRef> lines;       // command.lines
  std::vector<UploadFile> uploads;
};

// The part [begin, end) of file `index` (file-local offsets) that a shard
// [begin, end) of the virtual stream over files of these sizes covers;
// files without bytes in the shard are left out.
struct FileRange {
  size_t index = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
};
std::vector<FileRange> ShardFileRanges(const std::vector<uint64_t>& sizes,
                                       uint64_t begin, uint64_t end);

class JobStager {
 public:
  struct Options {
    std::string jobs_dir;  // SCRATCH/jobs; emptied at construction
    std::string host;      // named in shared_fs errors
  };

  // `cache` (which must outlive the stager) may be null when the worker
  // has none: staged jobs then fail with `cache_error`.
  JobStager(Options options, BlobCache* cache, absl::Status cache_error);

  JobStager(const JobStager&) = delete;
  JobStager& operator=(const JobStager&) = delete;

  absl::StatusOr<std::shared_ptr<const StagedJob>> Prepare(
      const shardex::v1::JobDefinition& def) ABSL_LOCKS_EXCLUDED(mu_);
  // Errors fail the attempt (the coordinator retries it elsewhere or
  // later): a fetch failure keeps its code, the message says what failed.
  // Adds the working-directory links of the job's uploads to `links`.
  // Setting `*cancel` stops a fetch in progress (CANCELLED).
  absl::Status BeforeShard(const StagedJob& job,
                           const shardex::v1::ShardTask& task,
                           const std::atomic<bool>& cancel,
                           std::vector<ProcessSpec::Link>* links)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(uint64_t job_id) ABSL_LOCKS_EXCLUDED(mu_);

  // SCRATCH/jobs/<job>.
  std::string JobDir(uint64_t job_id) const;

 private:
  // A job's upload tree. `mu` serialises its materialisation; the other
  // fields are protected by JobStager::mu_.
  struct JobFiles {
    absl::Mutex mu;
    bool materialized = false;
    bool busy = false;       // being materialised
    bool forgotten = false;  // Forget came; remove the dir when not busy
  };

  absl::Status Localize(const shardex::v1::JobDefinition& def, StagedJob* job);
  // shared_fs: fails naming this host if one of `paths` cannot be opened.
  absl::Status CheckOpenable(const std::vector<std::string>& paths) const;
  absl::Status EnsureShardInput(const StagedJob& job,
                                const shardex::v1::ShardTask& task,
                                const std::atomic<bool>& cancel);
  absl::Status EnsureUploads(const StagedJob& job,
                             const std::atomic<bool>& cancel)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const Options options_;
  BlobCache* const cache_;
  const absl::Status cache_error_;

  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<JobFiles>> jobs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_STAGING_H_
