// Worker: a shardex worker process's main loop. It dials the coordinator,
// registers, and keeps one bidirectional session stream: assignments and
// cancels come in; results (batched) and heartbeats go out. Shards run on a
// ShardExecutor, never on the threads that read or write the stream, and
// heartbeats come from the writer thread, which the compute pool cannot
// starve.
//
// The executor and the results outbox belong to the Worker, not to a
// session, so shards survive a lost coordinator: when the stream breaks
// they keep running while the worker dials again (jittered exponential
// backoff); results finished meanwhile, or not yet written when the stream
// broke, wait in the outbox. The next Register lists in `running` every
// attempt still held (queued, running, or finished with its result still
// in the outbox); the coordinator adopts the ones it wants and cancels the
// rest, and the outbox is sent right after Registered.
//
// Drain (SIGTERM) is graceful shutdown:
//
//   Drain(grace) --> send Drain; hand back queued attempts (and any task
//     |              that still arrives) at once
//     v
//   running attempts finish ... until `grace` --> hand back the rest
//     |                                            (stopped, reported
//     v                                             handed_back)
//   flush the outbox, WritesDone, wait for the coordinator to close
//     |   (reconnecting if needed, giving up drain_close_timeout after
//     v    the grace period)
//   Run() returns OK, with no shard running and no child process left
//
// Stop() ends at once: every attempt is cancelled (unreported), the stream
// is cancelled, and Run() returns OK once the attempts have ended.
//
// Thread-safety: Run on one thread; Drain and Stop from any thread.
#ifndef SHARDEX_WORKER_WORKER_H_
#define SHARDEX_WORKER_WORKER_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "proto/shardex.pb.h"
#include "worker/executor.h"

namespace shardex {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7473";  // host:port
  std::string token;       // the coordinator's access token (common/token.h)
  TlsFiles tls;            // none: plaintext
  int threads = 0;         // 0: every core
  int processes = 0;       // child processes at once; 0: every core
  std::string scratch_dir; // per-shard dirs of command shards; "": $TMPDIR or /tmp
  std::string host;        // reported name; empty: this machine's hostname
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // How long the coordinator may take to answer Register.
  absl::Duration register_timeout = absl::Seconds(10);
  int max_message_bytes = 64 << 20;
  // On SIGTERM: how long running shards may go on before they are handed
  // back (the CLI passes it to Drain).
  absl::Duration drain_timeout = absl::Seconds(30);
  // After a drain's grace period: how long delivering the last results and
  // closing the stream may take before the worker gives up on them.
  absl::Duration drain_close_timeout = absl::Seconds(5);
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Serves sessions until Stop(), or until a Drain() has handed everything
  // over. Returns OK then, after every attempt has ended; or the error when
  // the coordinator refuses the token or a TLS file is bad (retrying would
  // not help).
  absl::Status Run();
  // Starts a graceful drain (above) and returns at once. Further calls do
  // nothing; call Stop() to cut a drain short.
  void Drain(absl::Duration grace);
  void Stop();

 private:
  // One connection: returns when the stream ends or the worker leaves.
  // Sets `registered` once the coordinator accepted the worker.
  absl::Status Session(bool* registered);
  using Stream = grpc::ClientReaderWriter<shardex::v1::WorkerMessage,
                                          shardex::v1::CoordinatorMessage>;
  // The session's writer thread: Drain, results and heartbeats out, then
  // (once a drain has settled) WritesDone.
  void WriteLoop(Stream* stream, grpc::ClientContext* ctx,
                 absl::Duration heartbeat) ABSL_LOCKS_EXCLUDED(mu_);
  // The drain's timeline (on drain_thread_).
  void DrainAttempts();

  // The executor's sink.
  void OnResult(shardex::v1::ShardResult result) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops outbox results the coordinator cancelled.
  void Forget(const shardex::v1::CancelShards& cancel) ABSL_LOCKS_EXCLUDED(mu_);
  // Register.running: the attempts held, and those whose result waits.
  std::vector<shardex::v1::ShardRef> HeldAttempts() ABSL_LOCKS_EXCLUDED(mu_);
  // Moves results from the outbox into `batch`, keeping the message well
  // under the size limit (at least one result when there is any).
  void TakeBatch(shardex::v1::ResultBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether Run should return now.
  bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const WorkerOptions options_;
  const int threads_;
  const int processes_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Run is returning
  grpc::ClientContext* session_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool session_registered_ ABSL_GUARDED_BY(mu_) = false;
  bool session_over_ ABSL_GUARDED_BY(mu_) = false;  // the reader has ended
  std::deque<shardex::v1::ShardResult> outbox_ ABSL_GUARDED_BY(mu_);

  // Drain state, in the order it happens.
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_);
  std::thread drain_thread_ ABSL_GUARDED_BY(mu_);
  // Every attempt has ended; everything left to say is in the outbox.
  bool drain_settled_ ABSL_GUARDED_BY(mu_) = false;
  // The writer half-closed the stream after flushing the outbox.
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // The close timeout passed: leave without delivering the rest.
  bool give_up_ ABSL_GUARDED_BY(mu_) = false;

  // Last: destroyed first (it calls OnResult until then).
  std::unique_ptr<ShardExecutor> executor_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_WORKER_H_
