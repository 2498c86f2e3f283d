// TestStager: the staging side of a worker test. It owns a fresh scratch
// root (TempPath(<prefix><test name>), emptied first), a FakeBlobFetcher,
// a 1 GiB BlobCache in ROOT/cache fed by it and a JobStager in ROOT/jobs
// (host "testhost"), and adds staged files to job definitions, so that the
// stager and executor tests need not repeat that setup.
//
// Thread-safety: Open and Stage from the test's thread; the fetcher, cache
// and stager have their own guarantees. Declare it before anything that
// uses the stager, so that that is destroyed first.
#ifndef SHARDEX_WORKER_STAGING_TESTING_H_
#define SHARDEX_WORKER_STAGING_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "proto/shardex.pb.h"
#include "worker/blob_cache.h"
#include "worker/blob_dir.h"
#include "worker/fake_blob_fetcher.h"
#include "worker/staging.h"

namespace shardex {

struct TestStager {
  // Sets `root` (removing what a previous run left) and opens the cache
  // and the stager.
  absl::Status Open(const std::string& prefix);

  // Gives `content` to the fetcher and adds it as the staged file `path`
  // of `def`.
  BlobRef Stage(v1::JobDefinition* def, const std::string& path,
                const std::string& content, const std::string& upload_name = "",
                uint32_t mode = 0644);

  std::string root;
  FakeBlobFetcher fetcher;
  std::unique_ptr<BlobCache> cache;
  std::unique_ptr<JobStager> stager;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_STAGING_TESTING_H_
