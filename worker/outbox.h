// ResultOutbox: a worker's results not yet delivered to the coordinator, in
// the order they finished. It outlives sessions (worker/worker.h): results
// wait here while the worker is between connections, and a batch whose
// Write failed comes back to the front. Batches stay well under the gRPC
// message limit; a result that could never fit is replaced by an error
// naming its size, so one huge payload cannot break every session.
//
// Thread-safety: none; Worker guards its outbox with its mutex.
#ifndef SHARDEX_WORKER_OUTBOX_H_
#define SHARDEX_WORKER_OUTBOX_H_

#include <cstddef>
#include <deque>
#include <vector>

#include "proto/shardex.pb.h"

namespace shardex {

class ResultOutbox {
 public:
  // `batch_bytes`: the most a batch's results may add up to.
  explicit ResultOutbox(size_t batch_bytes) : batch_bytes_(batch_bytes) {}

  bool empty() const { return results_.empty(); }
  size_t size() const { return results_.size(); }

  void Add(shardex::v1::ShardResult result);
  // Back to the front, in their order: results whose Write failed.
  void PutBack(shardex::v1::ResultBatch* batch);
  // Drops the results of cancelled jobs and attempts.
  void Forget(const shardex::v1::CancelShards& cancel);
  // Appends the refs of waiting results not already in `refs`.
  void AppendWaiting(std::vector<shardex::v1::ShardRef>* refs) const;
  // Moves results from the front into `batch` up to batch_bytes (at least
  // one result when there is any).
  void TakeBatch(shardex::v1::ResultBatch* batch);

 private:
  const size_t batch_bytes_;
  std::deque<shardex::v1::ShardResult> results_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_OUTBOX_H_
