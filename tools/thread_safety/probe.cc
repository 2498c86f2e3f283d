// Must NOT compile under --config=thread_safety (tools/clang.bazelrc):
// scripts/thread_safety.sh builds it first and requires clang's
// thread-safety errors for both functions below, so a change that quietly
// turns the analysis off (a lost flag, a compiler that ignores it) fails
// CI instead of passing every annotated file unchecked. Tagged manual:
// `bazel build //...` never builds it.
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shardex {
namespace {

class Counter {
 public:
  // Writes a guarded member without its lock: -Wthread-safety-analysis.
  void UnlockedWrite() { value_ = 1; }

  // Calls a function that must run without the lock while holding it,
  // the rule coordinator/ keeps for journal calls.
  void CallWhileLocked() {
    absl::MutexLock lock(&mu_);
    NeedsLockReleased();
  }

 private:
  void NeedsLockReleased() ABSL_LOCKS_EXCLUDED(mu_) {}

  absl::Mutex mu_;
  int value_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace
}  // namespace shardex

int main() {
  shardex::Counter c;
  c.UnlockedWrite();
  c.CallWhileLocked();
  return 0;
}
