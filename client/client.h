// CoordinatorClient: what the CLI (and tests) use to talk to a coordinator.
// Wraps the generated stub; every unary call carries a deadline, and
// errors come back as absl::Status with the coordinator's message.
//
// Retries: once the client has reached the coordinator, a call that fails
// with UNAVAILABLE or DEADLINE_EXCEEDED (a coordinator restart, a network
// blip) is retried with full-jitter exponential backoff (common/backoff.h)
// for up to `retry_for`. Every call is safe to repeat: Submit sends a request id, so a
// retried submit still makes one job. Before the first contact, errors come
// back at once (a wrong address should not hang).
//
// Thread-safety: safe to share between threads (gRPC stubs are).
#ifndef SHARDEX_CLIENT_CLIENT_H_
#define SHARDEX_CLIENT_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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
  // terminal status. If the stream breaks, falls back to GetJob polling
  // until the job ends or the coordinator stays unreachable.
  absl::StatusOr<shardex::v1::JobStatus> Watch(
      uint64_t job_id,
      const std::function<void(const shardex::v1::JobStatus&)>& on_status);

 private:
  // Runs `call` (one RPC with a fresh context carrying the deadline),
  // retrying as described above.
  absl::Status Call(
      const std::function<grpc::Status(grpc::ClientContext*)>& call);

  // Constant after construction.
  const ClientOptions options_;
  absl::Status channel_error_;  // TLS set-up failed
  std::unique_ptr<shardex::v1::Coordinator::Stub> stub_;  // null on error

  std::atomic<bool> reached_{false};  // a call has got an answer
};

}  // namespace shardex

#endif  // SHARDEX_CLIENT_CLIENT_H_
