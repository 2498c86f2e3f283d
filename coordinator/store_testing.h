// TestStore: the store side of a coordinator test that stages files. It
// owns a fresh temporary root, a BlobStore in ROOT/store (on a FakeClock),
// a JobOutputs in ROOT/outputs and a StagingEnv naming both, so that tests
// of the planner, the scheduler, staged paths and the store service need
// not repeat that setup. The destructor closes the store and removes ROOT.
//
// Thread-safety: none; use it from the test's thread. The BlobStore it
// hands out has BlobStore's own guarantees.
#ifndef SHARDEX_COORDINATOR_STORE_TESTING_H_
#define SHARDEX_COORDINATOR_STORE_TESTING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/fake_clock.h"
#include "coordinator/blob_store.h"
#include "coordinator/job_outputs.h"
#include "coordinator/staged_paths.h"

namespace shardex {

class TestStore {
 public:
  // The root is TempDir()/<name>.XXXXXX. The store runs on its own
  // FakeClock, or on `clock` (not owned; it must outlive this) if given.
  explicit TestStore(std::string name, FakeClock* clock = nullptr);
  ~TestStore();
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  // Creates the root and opens the store; call once, from SetUp.
  absl::Status Open();
  // Closes the store and opens it again on the same directory (as after a
  // coordinator restart); env() then names the new store.
  absl::Status Reopen();
  // Closes the store (store() is null until Reopen).
  void Close();

  const std::string& root() const { return root_; }
  FakeClock& clock() { return *clock_; }
  BlobStore* store() { return store_.get(); }
  JobOutputs* outputs() { return outputs_.get(); }
  // Names store() and outputs(); tests may set its other fields.
  StagingEnv& env() { return env_; }

  // Stores `content` (unless already stored) and returns its sha256; a
  // failed upload fails the current test.
  std::string Put(const std::string& content);

 private:
  absl::Status OpenStore();

  const std::string name_;
  FakeClock own_clock_;
  FakeClock* const clock_;
  std::string root_;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<JobOutputs> outputs_;
  StagingEnv env_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_STORE_TESTING_H_
