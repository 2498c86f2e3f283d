// Worker: a shardex worker process's main loop. It dials the coordinator,
// registers, and keeps one bidirectional session stream: assignments and
// cancels come in; results (batched) and heartbeats go out. Shards run on a
// ShardExecutor, never on the threads that read or write the stream, and
// heartbeats come from the writer thread, which the compute pool cannot
// starve. When the session breaks, the worker drops its attempts (the
// coordinator has re-queued them) and dials again with jittered exponential
// backoff, until Stop().
//
// Thread-safety: Run on one thread; Stop from any thread.
#ifndef SHARDEX_WORKER_WORKER_H_
#define SHARDEX_WORKER_WORKER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"

namespace shardex {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7473";  // host:port
  int threads = 0;         // 0: every core
  int processes = 0;       // child processes at once; 0: every core
  std::string scratch_dir; // per-shard dirs of command shards; "": $TMPDIR or /tmp
  std::string host;        // reported name; empty: this machine's hostname
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  int max_message_bytes = 64 << 20;
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);

  // Serves sessions until Stop(). Returns OK after Stop.
  absl::Status Run();
  void Stop();

 private:
  // One connection: returns when the stream ends or Stop() is called.
  // Sets `registered` once the coordinator accepted the worker.
  absl::Status Session(bool* registered);

  const WorkerOptions options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* session_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_WORKER_H_
