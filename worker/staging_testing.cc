#include "worker/staging_testing.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "worker/test_files.h"

namespace shardex {

absl::Status TestStager::Open(const std::string& prefix) {
  root = TempPath(absl::StrCat(
      prefix, ::testing::UnitTest::GetInstance()->current_test_info()->name()));
  absl::Status removed = RemoveTree(root);
  if (!removed.ok()) return removed;
  absl::StatusOr<std::unique_ptr<BlobCache>> opened =
      BlobCache::Open({root + "/cache", uint64_t{1} << 30}, &fetcher);
  if (!opened.ok()) return opened.status();
  cache = *std::move(opened);
  stager = std::make_unique<JobStager>(
      JobStager::Options{root + "/jobs", "testhost"}, cache.get(),
      absl::OkStatus());
  return absl::OkStatus();
}

BlobRef TestStager::Stage(v1::JobDefinition* def, const std::string& path,
                          const std::string& content,
                          const std::string& upload_name, uint32_t mode) {
  const BlobRef blob = fetcher.Put(content);
  v1::StagedFile* f = def->add_staged();
  f->set_path(path);
  f->set_sha256(blob.sha256);
  f->set_size(blob.size);
  f->set_mode(mode);
  f->set_upload_name(upload_name);
  return blob;
}

}  // namespace shardex
