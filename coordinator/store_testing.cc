#include "coordinator/store_testing.h"

#include <stdlib.h>

#include <utility>

#include "common/blob_id.h"
#include "common/file_util.h"
#include "gtest/gtest.h"

namespace shardex {

TestStore::TestStore(std::string name, FakeClock* clock)
    : name_(std::move(name)), clock_(clock != nullptr ? clock : &own_clock_) {}

TestStore::~TestStore() {
  Close();
  outputs_.reset();
  if (!root_.empty()) (void)RemoveTree(root_);
}

absl::Status TestStore::Open() {
  std::string tmpl = TempDir() + "/" + name_ + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("mkdtemp " + tmpl + " failed");
  }
  root_ = tmpl;
  outputs_ = std::make_unique<JobOutputs>(root_ + "/outputs");
  env_.outputs = outputs_.get();
  return OpenStore();
}

absl::Status TestStore::Reopen() {
  Close();
  return OpenStore();
}

void TestStore::Close() {
  env_.store = nullptr;
  store_.reset();
}

absl::Status TestStore::OpenStore() {
  auto store = BlobStore::Open(root_ + "/store", {}, clock_);
  if (!store.ok()) return store.status();
  store_ = *std::move(store);
  env_.store = store_.get();
  return absl::OkStatus();
}

std::string TestStore::Put(const std::string& content) {
  const std::string sha = Sha256Hex(content);
  auto up = store_->BeginUpload(sha, content.size(), 0);
  EXPECT_TRUE(up.ok()) << up.status();
  if (up.ok() && !(*up)->complete()) {
    EXPECT_TRUE((*up)->Append(content).ok());
    EXPECT_TRUE((*up)->Finish().ok());
  }
  return sha;
}

}  // namespace shardex
