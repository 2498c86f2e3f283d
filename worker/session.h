// Session: one connection from a worker to the coordinator's
// WorkerGateway.Session stream. Run() dials, sends Register, waits (up to
// register_timeout) for Registered, then reads assignments and cancels on
// the calling thread while its writer thread sends what the Host hands it
// (Drain, result batches) and a heartbeat whenever the Host has had nothing
// for a heartbeat interval; the writer runs apart from the compute pool,
// so heartbeats cannot starve. A session ends when the stream does; it
// holds no worker state, only the connection. What to write and where
// incoming work goes is the Host's business (Worker, worker/worker.h),
// which outlives every session.
//
// Thread-safety: Run on one thread; Cancel from any thread while the
// Session exists. Host methods are called from the Run thread and the
// writer thread, never under a lock of the Session's.
#ifndef SHARDEX_WORKER_SESSION_H_
#define SHARDEX_WORKER_SESSION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "proto/shardex.pb.h"
#include "worker/worker_state.h"

namespace shardex {

class Session {
 public:
  // What a session needs from the process it serves.
  class Host {
   public:
    virtual ~Host() = default;
    // Register.running: every attempt the worker still holds; and
    // Register.held: the same attempts with the ranges they cover now.
    virtual void FillHeld(shardex::v1::Register* reg) = 0;
    // The coordinator answered Register.
    virtual void OnRegistered() = 0;
    virtual void OnAssignments(const shardex::v1::AssignmentBatch& batch) = 0;
    virtual void OnCancel(const shardex::v1::CancelShards& cancel) = 0;
    // Straggler splitting: the answer (ShardSplit) goes out with the
    // results, before the attempt's own.
    virtual void OnSplit(const shardex::v1::SplitShard& split) = 0;
    // The stream's reader has ended; the writer is about to be told so.
    virtual void OnReaderEnded() = 0;
    // Waits up to `idle` for something to write and says what it is,
    // filling `msg` for kSendDrain and kSendResults (a result batch or a
    // split answer). kWait: a heartbeat.
    virtual WorkerState::WriteStep NextWrite(
        absl::Duration idle, bool drain_sent,
        shardex::v1::WorkerMessage* msg) = 0;
    // Results whose Write failed (maybe never delivered): keep them.
    virtual void Unsent(shardex::v1::ResultBatch* batch) = 0;
    virtual void FillHeartbeat(shardex::v1::Heartbeat* heartbeat) = 0;
  };

  struct Options {
    ChannelOptions channel;  // the coordinator's address, TLS, limits
    std::string token;       // the coordinator's access token
    // How long the coordinator may take to answer Register.
    absl::Duration register_timeout = absl::Seconds(10);
    // Register's fields.
    std::string host;
    int slots = 1;
    int processes = 1;
  };

  // `options` and `host` must outlive the Session.
  Session(const Options& options, Host* host);

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the session until the stream ends. Sets `*registered` once the
  // coordinator accepted the worker. OK only when the session half-closed
  // the stream (NextWrite said kClose) and the coordinator then ended it
  // cleanly; otherwise why the session ended (a bad TLS file is
  // INVALID_ARGUMENT, a refused token UNAUTHENTICATED, a TLS mistake the
  // FAILED_PRECONDITION of DiagnoseTls, common/tls_diagnosis.h).
  absl::Status Run(bool* registered);
  // Ends the stream: reads and writes fail and Run returns soon.
  void Cancel() { ctx_.TryCancel(); }

 private:
  using Stream = grpc::ClientReaderWriter<shardex::v1::WorkerMessage,
                                          shardex::v1::CoordinatorMessage>;

  // Register (listing `*held` attempts), then Registered within
  // register_timeout.
  bool Handshake(Stream* stream, shardex::v1::CoordinatorMessage* in,
                 int* held);
  // The writer thread's body. Returns whether it half-closed the stream.
  bool WriteLoop(Stream* stream, absl::Duration heartbeat);

  const Options& options_;
  Host* const host_;
  grpc::ClientContext ctx_;  // TryCancel is thread-safe
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_SESSION_H_
