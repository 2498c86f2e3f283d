// CoordinatorClient: what the CLI (and tests) use to talk to a coordinator.
// Wraps the generated stub; every unary call carries a deadline, and
// errors come back as absl::Status with the coordinator's message.
//
// Retries: once the client has reached the coordinator, a call that fails
// with UNAVAILABLE or DEADLINE_EXCEEDED (a coordinator restart, a network
// blip) is retried with full-jitter exponential backoff (common/backoff.h)
// for up to `retry_for`. Every call is safe to repeat: Submit sends a request
// id, so a retried submit still makes one job. Before the first contact, errors
// come back at once (a wrong address should not hang); when that first failure
// is a TLS mistake (a plaintext client at a TLS port, a CA that did not sign
// the coordinator's certificate, ...), the error names it and its fix
// (common/tls_diagnosis.h) instead of "cannot reach".
//
// Hangs: channels send keepalive pings (common/channel.h), so a call or a
// watch over a half-open connection fails within seconds; Watch then opens
// a new stream, within the same retry window.
//
// Thread-safety: safe to share between threads (gRPC stubs are).
#ifndef SHARDEX_CLIENT_CLIENT_H_
#define SHARDEX_CLIENT_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/tls.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {

struct ClientOptions {
  std::string coordinator = "127.0.0.1:7473";
  std::string token;  // sent with every call (common/token.h)
  TlsFiles tls;       // none: plaintext
  absl::Duration deadline = absl::Seconds(10);  // per unary call
  absl::Duration retry_for = absl::Seconds(30);
  BackoffOptions backoff = {absl::Milliseconds(50), absl::Seconds(2)};
  int max_message_bytes = 64 << 20;
};

class CoordinatorClient {
 public:
  // A bad TLS file shows up as the error of every call.
  explicit CoordinatorClient(ClientOptions options);

  // Submits with a fresh request id (retries reuse it).
  absl::StatusOr<shardex::v1::JobStatus> Submit(
      const shardex::v1::JobSpec& spec);
  absl::StatusOr<shardex::v1::JobStatus> Submit(
      const shardex::v1::JobSpec& spec, const std::string& request_id);
  absl::StatusOr<shardex::v1::JobStatus> GetJob(uint64_t job_id);
  absl::StatusOr<shardex::v1::JobStatus> Cancel(uint64_t job_id);
  absl::StatusOr<std::vector<shardex::v1::JobStatus>> ListJobs();
  absl::StatusOr<std::vector<shardex::v1::WorkerInfo>> ListWorkers();

  // Streams the job's statuses to `on_status` until it ends; returns the
  // terminal status. If the stream breaks (a coordinator restart, a dead
  // link noticed by keepalive), opens a new one, retrying like Call: until
  // the coordinator has been unreachable for `retry_for`, then UNAVAILABLE.
  // Every status that arrives restarts that window. When the coordinator
  // refuses the stream (RESOURCE_EXHAUSTED beyond --max-watch-streams),
  // polls GetJob instead.
  absl::StatusOr<shardex::v1::JobStatus> Watch(
      uint64_t job_id,
      const std::function<void(const shardex::v1::JobStatus&)>& on_status);

  // Makes a Watch running on another thread, and every later one, return
  // CANCELLED with `why` at once: for a command interrupted by a signal
  // (`shardex local` on SIGINT/SIGTERM, cli/stop_signals.h).
  void StopWatching(const std::string& why) ABSL_LOCKS_EXCLUDED(watch_mu_);

  // grpc.health.v1 Check of `service` ("" for the server as a whole). OK
  // when SERVING; otherwise why not (NOT_FOUND for a service the server
  // does not know). Needs no token.
  absl::Status CheckHealth(const std::string& service);

  // For the clients of the coordinator's other services on the same
  // channel (client/store_client.h). Runs `call` (one RPC with a fresh
  // context carrying the deadline and the token), retrying as described
  // above.
  absl::Status Call(
      const std::function<grpc::Status(grpc::ClientContext*)>& call);
  // `st` as an error a person can act on: names the coordinator, the
  // token's flags, or (before the first contact) the TLS mistake.
  absl::Status Explain(const grpc::Status& st);
  // Null when the TLS set-up failed; then channel_error() says why.
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const absl::Status& channel_error() const { return channel_error_; }
  const ClientOptions& options() const { return options_; }

 private:
  // Lets the channel dial again at once on the next call.
  void RetryConnectNow();
  // One WatchJob stream: OK with `*last` terminal, or why it ended.
  grpc::Status WatchOnce(
      uint64_t job_id,
      const std::function<void(const shardex::v1::JobStatus&)>& on_status,
      shardex::v1::JobStatus* last, bool* progressed);
  // GetJob every 500 ms until the job ends (or GetJob fails).
  absl::StatusOr<shardex::v1::JobStatus> PollJob(
      uint64_t job_id,
      const std::function<void(const shardex::v1::JobStatus&)>& on_status);
  // Constant after construction.
  const ClientOptions options_;
  absl::Status channel_error_;                            // TLS set-up failed
  std::shared_ptr<grpc::Channel> channel_;                // null on error
  std::unique_ptr<shardex::v1::Coordinator::Stub> stub_;  // null on error

  std::atomic<bool> reached_{false};  // a call has got an answer

  // StopWatching: the stream to cancel, and whether it was called.
  absl::Mutex watch_mu_;
  grpc::ClientContext* watch_ctx_ ABSL_GUARDED_BY(watch_mu_) = nullptr;
  std::string stopped_why_ ABSL_GUARDED_BY(watch_mu_);  // empty: not stopped
  // StopWatching's error, or OK.
  absl::Status WatchStopped() ABSL_LOCKS_EXCLUDED(watch_mu_);
};

}  // namespace shardex

#endif  // SHARDEX_CLIENT_CLIENT_H_
