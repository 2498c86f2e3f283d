// Worker: a shardex worker process's lifetime. It owns what outlives a
// connection to the coordinator: the ShardExecutor that runs shards, the
// outbox of results not yet delivered (worker/outbox.h), the reconnect loop (full-jitter
// exponential backoff, common/backoff.h) and the drain timeline. Each
// connection is a Session (worker/session.h: register, reader, writer
// thread, heartbeats), which asks the Worker what to send and hands it
// what arrives; shards never run on the session's threads.
//
// Staged files: a JobStager over a BlobCache filled from the coordinator's
// Store (worker/staging.h) makes each job's files local before its shards
// run.
//
// Shards survive a lost coordinator: when the stream breaks they keep
// running while the worker dials again; results finished meanwhile, or not
// yet written when the stream broke, wait in the outbox. The next Register
// lists in `running` every attempt still held (queued, running, or
// finished with its result still in the outbox); the coordinator adopts
// the ones it wants and cancels the rest, and the outbox is sent right
// after Registered.
//
// Straggler splitting: a SplitShard moves a running kernel attempt's end
// (ShardExecutor::Split) and its answer, ShardSplit, joins the outbox
// under the same lock, so it goes out before the attempt's result.
//
// Drain (SIGTERM) is graceful shutdown (the phases are WorkerState's,
// worker/worker_state.h):
//
//   Drain(grace) --> kDraining: send Drain; hand back queued attempts (and
//     |              any task that still arrives) at once
//     v
//   running attempts finish ... until `grace` --> hand back the rest
//     |                                            (stopped, reported
//     v                                             handed_back)
//   kSettled: flush the outbox, WritesDone (kClosed), wait for the
//     |   coordinator to close (reconnecting if needed; kGaveUp
//     v   drain_close_timeout after the grace period)
//   Run() returns OK, with no shard running and no child process left
//
// Stop() ends at once (kStopped): every attempt is cancelled (unreported),
// the stream is cancelled, and Run() returns OK once the attempts have
// ended.
//
// Thread-safety: Run on one thread; Drain and Stop from any thread.
#ifndef SHARDEX_WORKER_WORKER_H_
#define SHARDEX_WORKER_WORKER_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/tls.h"
#include "proto/shardex.pb.h"
#include "worker/blob_cache.h"
#include "worker/blob_fetcher.h"
#include "worker/executor.h"
#include "worker/outbox.h"
#include "worker/result_linger.h"
#include "worker/host_stats.h"
#include "worker/session.h"
#include "worker/staging.h"
#include "worker/worker_state.h"

namespace shardex {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7473";  // host:port
  std::string token;       // the coordinator's access token (common/token.h)
  TlsFiles tls;            // none: plaintext
  int threads = 0;         // 0: every core
  int processes = 0;       // child processes at once; 0: every core
  std::string scratch_dir; // per-shard dirs of command shards; "": TempDir()
  // Cap on the blob cache of staged files (docs/staging.md), kept in
  // SCRATCH/cache beside the jobs' upload trees in SCRATCH/jobs, where
  // SCRATCH is scratch_dir, or TempDir()/shardex-worker-<uid> without one.
  uint64_t cache_bytes = uint64_t{10} << 30;
  std::string host;        // reported name; empty: this machine's hostname
  // Between sessions; back to `initial` after a session that registered.
  BackoffOptions backoff = {absl::Milliseconds(100), absl::Seconds(5)};
  // How long the coordinator may take to answer Register.
  absl::Duration register_timeout = absl::Seconds(10);
  int max_message_bytes = 64 << 20;
  // How long a result may wait for others to share its message while the
  // worker still has attempts queued (worker/result_linger.h); zero sends
  // each at once.
  absl::Duration result_linger = absl::Milliseconds(5);
  // On SIGTERM: how long running shards may go on before they are handed
  // back (the CLI passes it to Drain).
  absl::Duration drain_timeout = absl::Seconds(30);
  // After a drain's grace period: how long delivering the last results and
  // closing the stream may take before the worker gives up on them.
  absl::Duration drain_close_timeout = absl::Seconds(5);
};

class Worker : private Session::Host {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker() override;

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Serves sessions until Stop(), or until a Drain() has handed everything
  // over. Returns OK then, after every attempt has ended; or the error when
  // the coordinator refuses the token or a TLS file is bad (retrying would
  // not help).
  absl::Status Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Starts a graceful drain (above) and returns at once. Further calls do
  // nothing; call Stop() to cut a drain short.
  void Drain(absl::Duration grace) ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One Session, registered as the current one while it runs.
  absl::Status RunSession(bool* registered) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends Run: cancels what is left, joins the drain thread, logs the end.
  void Finish() ABSL_LOCKS_EXCLUDED(mu_);
  // The drain's timeline (on drain_thread_).
  void DrainAttempts() ABSL_LOCKS_EXCLUDED(mu_);
  // After the drain settled: waits for Run to end, or gives up at
  // `give_up_at`, cancelling the session.
  void AwaitClose(absl::Time give_up_at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Session::Host.
  void FillHeld(shardex::v1::Register* reg) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnRegistered() override ABSL_LOCKS_EXCLUDED(mu_);
  // (The executor may call OnResult from within Assign and Cancel.)
  void OnAssignments(const shardex::v1::AssignmentBatch& batch) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel(const shardex::v1::CancelShards& cancel) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnSplit(const shardex::v1::SplitShard& split) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnReaderEnded() override ABSL_LOCKS_EXCLUDED(mu_);
  WorkerState::WriteStep NextWrite(absl::Duration idle, bool drain_sent,
                                   shardex::v1::WorkerMessage* msg) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsent(shardex::v1::ResultBatch* batch) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void FillHeartbeat(shardex::v1::Heartbeat* heartbeat) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // The executor's sink.
  void OnResult(shardex::v1::ShardResult result,
                std::optional<ShardRange> covered) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether Run should return now.
  bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const WorkerOptions options_;
  const Session::Options session_options_;

  mutable absl::Mutex mu_;
  WorkerState state_ ABSL_GUARDED_BY(mu_);
  Session* session_ ABSL_GUARDED_BY(mu_) = nullptr;  // the current one
  ResultOutbox outbox_ ABSL_GUARDED_BY(mu_);
  ResultLinger linger_ ABSL_GUARDED_BY(mu_);  // when outbox_ goes out
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_);  // end of the grace
  std::thread drain_thread_ ABSL_GUARDED_BY(mu_);

  // Staged files (constant after construction): the executor uses them.
  // A worker whose scratch dir's cache another worker holds uses a private
  // root below it, removed when it ends.
  bool private_root_ = false;
  std::string staging_root_;
  std::unique_ptr<BlobFetcher> fetcher_;
  std::unique_ptr<BlobCache> cache_;  // null if it could not be opened
  std::unique_ptr<JobStager> stager_;

  // The host's CPU, memory and load, for heartbeats.
  ProcHostStats host_stats_;

  // Last: destroyed first (it calls OnResult until then).
  std::unique_ptr<ShardExecutor> executor_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_WORKER_H_
