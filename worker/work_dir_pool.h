// WorkDirPool: the worker's WorkDirSource (common/work_dir_source.h). It
// gives command shards their work dirs under the scratch root and recycles
// the dirs their shards left empty.
//
// Why: most shards print their result and leave their dir empty, yet each
// paid a mkdir (ext4 scans recently deleted inodes for a new one), an rmdir
// and a reaper thread's wake-up: ~14% of a worker's CPU on 2.7 ms shards.
// An empty released dir is kept and handed to a later shard instead.
//
// Guarantees: each shard starts in an empty, private (0700) dir that no
// other running shard holds, so no shard sees another's files. A dir is
// reused only if it is still a directory of ours, mode 0700, holding
// nothing at all -- checked (one open, one getdents64; a few microseconds)
// when it is released and again when it is handed out. So the same path
// may be handed to many shards, one after another; a shard must not take
// its path as unique. Any other released dir (or one beyond `max_idle`)
// goes to a WorkDirReaper (worker/work_dir_reaper.h), which removes it on
// threads of its own; one that vanished is just forgotten. The destructor
// removes every dir the pool still holds, kept or waiting for the reaper.
// Dirs handed out must all be released before then.
//
// Limit: a descendant that escaped its shard's process group (see
// common/process_runner.h) keeps its cwd; it could write into the dir
// after the check that hands it to a later shard.
//
// Thread-safety: Acquire and Release are safe from any thread; the process
// pool's threads call them concurrently.
#ifndef SHARDEX_WORKER_WORK_DIR_POOL_H_
#define SHARDEX_WORKER_WORK_DIR_POOL_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/work_dir_source.h"
#include "worker/work_dir_reaper.h"

namespace shardex {

class WorkDirPool : public WorkDirSource {
 public:
  struct Options {
    // Empty dirs kept for reuse; one per process slot would do.
    size_t max_idle = 64;
    WorkDirReaper::Options reaper;
  };

  // Fresh dirs are made under `scratch_root`; empty means $TMPDIR or /tmp.
  explicit WorkDirPool(std::string scratch_root)
      : WorkDirPool(std::move(scratch_root), Options()) {}
  WorkDirPool(std::string scratch_root, Options options);
  // Removes the kept dirs and those waiting for removal.
  ~WorkDirPool() override;

  WorkDirPool(const WorkDirPool&) = delete;
  WorkDirPool& operator=(const WorkDirPool&) = delete;

  // A kept empty dir if there is one, else a fresh one (MakeWorkDir).
  absl::StatusOr<std::string> Acquire() override ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps `dir` if it is empty and there is room, else has it removed.
  void Release(std::string dir) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::optional<std::string> TakeIdle() ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps `*dir` (moving it) unless max_idle dirs are kept already.
  bool Keep(std::string* dir) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string scratch_root_;
  const size_t max_idle_;

  // Thread-safe itself. Before the state below: destroyed after the
  // destructor has handed it the kept dirs.
  WorkDirReaper reaper_;

  absl::Mutex mu_;
  // State below is protected by mu_.
  // Empty dirs ready for reuse; the last released is handed out first,
  // its inode likeliest to be cached.
  std::vector<std::string> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_WORK_DIR_POOL_H_
