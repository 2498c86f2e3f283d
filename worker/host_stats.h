// HostStats: the worker host's CPU use, memory and load, sent in every
// Heartbeat so the coordinator can export them (/metrics; docs/
// operations.md). Read from Linux's /proc (stat, meminfo, loadavg) by
// ProcHostStats; tests point it at a directory of fake files.
//
// Thread-safety: ProcHostStats::Sample may be called from any thread.
#ifndef SHARDEX_WORKER_HOST_STATS_H_
#define SHARDEX_WORKER_HOST_STATS_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/shardex.pb.h"

namespace shardex {

struct HostStats {
  // Busy share of all CPUs (0..1) since the previous sample (the first:
  // since boot).
  double cpu_utilization = 0;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;  // MemAvailable
  double load1 = 0;                     // 1-minute load average

  // Sets the heartbeat's host fields.
  void FillHeartbeat(shardex::v1::Heartbeat* heartbeat) const;
};

class HostStatsSource {
 public:
  virtual ~HostStatsSource() = default;
  virtual HostStats Sample() = 0;
};

// Reads <proc>/stat, <proc>/meminfo and <proc>/loadavg. A file that cannot
// be read leaves its fields 0 (a container without /proc still works).
class ProcHostStats : public HostStatsSource {
 public:
  explicit ProcHostStats(std::string proc = "/proc")
      : proc_(std::move(proc)) {}
  HostStats Sample() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string proc_;
  absl::Mutex mu_;
  // The previous sample's /proc/stat totals, in clock ticks.
  uint64_t last_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_idle_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_HOST_STATS_H_
