// WatchHub: fans job progress out to WatchJob streams.
//
// A subscriber gets the job's full status at once (with its spec), then
// progress statuses (JobView::kProgress: no spec, which may be 256 KiB,
// but its one-line summary) at most once per `interval` while the job
// changes, and the terminal one as soon as the job ends. Coalescing keeps
// a job finishing 100,000 shards a second from producing 100,000 messages
// a second. Updates are read from the Scheduler on the hub's own thread,
// never on a gRPC thread.
//
// The hub also admits WatchJob streams: at most
// SchedulerOptions::max_watch_streams are open at once (AddStream,
// RemoveStream), so a client opening streams in a loop cannot exhaust the
// coordinator's memory; beyond the cap a stream is refused with
// RESOURCE_EXHAUSTED.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SHARDEX_COORDINATOR_WATCH_HUB_H_
#define SHARDEX_COORDINATOR_WATCH_HUB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/scheduler.h"
#include "proto/shardex.pb.h"

namespace shardex {

// Receives statuses for one watched job. Post and End must not block.
class JobWatcher {
 public:
  virtual ~JobWatcher() = default;
  virtual void Post(const shardex::v1::JobStatus& status) = 0;
  // No more statuses will come: the job is gone (forgotten after it ended,
  // see SchedulerOptions::max_job_records).
  virtual void End(const absl::Status& status) = 0;
};

class WatchHub {
 public:
  WatchHub(Scheduler* scheduler, absl::Duration interval);
  ~WatchHub();  // stops the publishing thread

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Posts the job's current full status to `watcher` and keeps it posted
  // with progress statuses until the job ends or Unsubscribe. NOT_FOUND
  // for an unknown job.
  absl::Status Subscribe(uint64_t job_id, std::shared_ptr<JobWatcher> watcher)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(uint64_t job_id, const JobWatcher* watcher)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The Scheduler's JobListener.
  void OnJobChanged(uint64_t job_id, bool terminal) ABSL_LOCKS_EXCLUDED(mu_);

  // A WatchJob stream opens: RESOURCE_EXHAUSTED naming the limit and its
  // flag when max_watch_streams are open. Each OK is paired with one
  // RemoveStream when the stream is done.
  absl::Status AddStream() ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveStream() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void PublishLoop() ABSL_LOCKS_EXCLUDED(mu_);

  Scheduler* const scheduler_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  std::map<uint64_t, std::set<std::shared_ptr<JobWatcher>>> watchers_
      ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> dirty_ ABSL_GUARDED_BY(mu_);
  bool urgent_ ABSL_GUARDED_BY(mu_) = false;  // a watched job ended
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t streams_ ABSL_GUARDED_BY(mu_) = 0;  // open WatchJob streams

  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_WATCH_HUB_H_
