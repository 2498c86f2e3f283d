// The --upload files of a job on a worker (docs/staging.md): a read-only
// tree SCRATCH/jobs/<job>/upload/<upload_name>..., copied from the complete
// cache files with their permission bits (an uploaded program stays
// executable, nothing stays writable), whose top-level entries appear in
// every command shard's working directory as symlinks.
//
// Thread-safety: the functions keep no state; callers make sure only one
// call materialises a given root at a time (JobStager holds a per-job lock).
#ifndef SHARDEX_WORKER_UPLOAD_TREE_H_
#define SHARDEX_WORKER_UPLOAD_TREE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/process_runner.h"
#include "worker/blob_cache.h"

namespace shardex {

struct UploadFile {
  BlobRef blob;
  std::string name;  // relative path in the working directory
  uint32_t mode = 0644;
};

// INVALID_ARGUMENT unless `name` is relative, with no empty, "." or ".."
// component.
absl::Status CheckUploadName(const std::string& name);

// Fetches each file whole into `cache` and copies it to `root`/name
// (creating directories), then makes the tree read-only. On error the
// partial tree is removed.
absl::Status MaterializeUploads(const std::vector<UploadFile>& files,
                                const std::string& root, BlobCache* cache,
                                const std::atomic<bool>& cancel);

// One link per distinct first component of the names: name -> root/name.
std::vector<ProcessSpec::Link> TopLevelLinks(
    const std::vector<UploadFile>& files, const std::string& root);

}  // namespace shardex

#endif  // SHARDEX_WORKER_UPLOAD_TREE_H_
