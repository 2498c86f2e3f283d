// WorkDirReaper: removes command shards' finished work dirs on its own
// threads, so that a shard's result and the next shard on its slot need not
// wait for the removal. The worker's WorkDirPool (worker/work_dir_pool.h)
// hands it the dirs it does not keep for reuse: those left non-empty.
//
// Why: removing a directory can block on the disk. On ext4 mounted with
// `discard` (common on cloud VMs) each rmdir() waits 1-4 ms for the freed
// block's discard while using ~40 us of CPU -- as long as a whole short
// command shard. Done inline (RunProcess's default), every shard on every
// slot paid it before its result was reported (bench/peers.sh, ~8 ms
// shards). Concurrent removals overlap their waits, so a few threads keep
// up with many slots.
//
// Guarantees kept: every dir handed over is removed, whatever the shard
// did -- only later. Dirs not yet removed are bounded: beyond `max_pending`
// waiting, Remove() removes on the caller's thread (back-pressure, as
// before this type). The destructor removes every dir still waiting before
// it returns.
//
// A failed removal is counted (failures()) and logged; the dir's shard has
// ended by then, so it cannot fail the shard.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SHARDEX_WORKER_WORK_DIR_REAPER_H_
#define SHARDEX_WORKER_WORK_DIR_REAPER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace shardex {

class WorkDirReaper {
 public:
  struct Options {
    int threads = 2;
    size_t max_pending = 64;
    // Removes one dir; RemoveTree (common/file_util.h) unless a test
    // injects another.
    std::function<absl::Status(const std::string&)> remove;
  };

  WorkDirReaper() : WorkDirReaper(Options()) {}
  explicit WorkDirReaper(Options options);
  // Removes the dirs still waiting, then joins the threads.
  ~WorkDirReaper();

  WorkDirReaper(const WorkDirReaper&) = delete;
  WorkDirReaper& operator=(const WorkDirReaper&) = delete;

  // Takes `dir` for removal. Returns at once, unless max_pending dirs are
  // already waiting: then removes it before returning.
  void Remove(std::string dir) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until every dir handed over so far has been removed (or its
  // removal failed).
  void Flush() ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t failures() const ABSL_LOCKS_EXCLUDED(mu_);
  // Dirs Remove() removed on the caller's thread because too many waited.
  uint64_t removed_inline() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveNow(const std::string& dir) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const Options options_;

  mutable absl::Mutex mu_;
  // State below is protected by mu_.
  std::deque<std::string> pending_ ABSL_GUARDED_BY(mu_);
  int in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t removed_inline_ ABSL_GUARDED_BY(mu_) = 0;

  // Last: started after the state above exists.
  std::vector<std::thread> threads_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_WORK_DIR_REAPER_H_
