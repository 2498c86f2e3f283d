// WorkDirSource: where RunProcess (common/process_runner.h) gets a child's
// work dir, and where it gives the dir back when the run is over.
//
// Without one, RunProcess makes a fresh dir (MakeWorkDir) and removes it
// before returning. A worker passes a source instead (worker/work_dir_pool.h)
// that recycles dirs the child left empty and removes the others on threads
// of its own: a mkdir plus an rmdir per short shard is measurable CPU, and an
// rmdir can wait on the disk for milliseconds.
//
// Contract for implementations: Acquire returns an absolute path to an
// empty directory, mode 0700, that no other run holds until it is released
// (paths may repeat across runs). RunProcess calls Release exactly once for
// every successful Acquire, whatever happened in between (including a child
// that could not start), after the child and its process group are gone;
// the dir may then hold anything the child left. From then on the source
// owns it: it must reuse it only once it is empty again, and remove it
// eventually.
//
// Thread-safety: RunProcess calls a source from many threads at once, so
// implementations must be thread-safe.
#ifndef SHARDEX_COMMON_WORK_DIR_SOURCE_H_
#define SHARDEX_COMMON_WORK_DIR_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"

namespace shardex {

class WorkDirSource {
 public:
  virtual ~WorkDirSource() = default;

  // An empty private dir for one run, or why none could be had.
  virtual absl::StatusOr<std::string> Acquire() = 0;
  // Gives back a dir Acquire returned, with whatever the run left in it.
  virtual void Release(std::string dir) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_WORK_DIR_SOURCE_H_
