// StreamWriter: serialises writes on one gRPC callback stream.
//
// A callback reactor allows one write in flight and one Finish, which must
// not overlap a write. StreamWriter queues messages from any thread, starts
// each write when the previous one is done, and finishes the stream after
// the queue drains (or at once, dropping what is queued). The reactor calls
// OnWriteDone from its OnWriteDone and Detach from its OnDone; after Detach
// every call is a no-op, so holders of a shared_ptr to the writer (the
// scheduler's WorkerLink, the WatchHub) never touch a deleted reactor.
//
// Thread-safety: all methods are safe from any thread. Reactor operations are
// started outside the lock.
#ifndef SHARDEX_COORDINATOR_STREAM_WRITER_H_
#define SHARDEX_COORDINATOR_STREAM_WRITER_H_

#include <deque>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"

namespace shardex {

template <typename Message>
class StreamWriter {
 public:
  using StartWriteFn = std::function<void(const Message*)>;
  using FinishFn = std::function<void(const grpc::Status&)>;

  StreamWriter(StartWriteFn start_write, FinishFn finish)
      : start_write_(std::move(start_write)), finish_(std::move(finish)) {}

  // Queues `message`. With `coalesce`, it replaces a queued message that has
  // not started yet (watchers only need the latest status).
  void Write(Message message, bool coalesce = false) {
    const Message* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_ || detached_) return;
      if (coalesce && queue_.size() > (writing_ ? 1u : 0u)) {
        queue_.back() = std::move(message);
      } else {
        queue_.push_back(std::move(message));
      }
      if (!writing_) {
        writing_ = true;
        start = &queue_.front();
      }
    }
    if (start != nullptr) start_write_(start);
  }

  // Finishes the stream with `status` once the queue drains; with
  // `drop_queued`, after the write in flight only.
  void Finish(const grpc::Status& status, bool drop_queued) {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_ || detached_) return;
      finish_requested_ = true;
      status_ = status;
      if (drop_queued && !queue_.empty()) {
        queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
      }
      finish_now = !writing_;
    }
    if (finish_now) finish_(status);
  }

  void OnWriteDone(bool ok) {
    const Message* start = nullptr;
    bool finish_now = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!queue_.empty()) queue_.pop_front();
      if (!ok) {  // the stream is broken: nothing more will be delivered
        queue_.clear();
        if (!finish_requested_) {
          finish_requested_ = true;
          status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
        }
      }
      if (!queue_.empty()) {
        writing_ = true;
        start = &queue_.front();
      } else if (finish_requested_ && !detached_) {
        finish_now = true;
        status = status_;
      }
    }
    if (start != nullptr) start_write_(start);
    if (finish_now) finish_(status);
  }

  void Detach() {
    absl::MutexLock lock(&mu_);
    detached_ = true;
    queue_.clear();
  }

 private:
  const StartWriteFn start_write_;
  const FinishFn finish_;

  absl::Mutex mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);  // front is in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_STREAM_WRITER_H_
