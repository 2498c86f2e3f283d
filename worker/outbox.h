// ResultOutbox: a worker's results not yet delivered to the coordinator, in
// the order they finished, with its answers to SplitShard (ShardSplit) in
// between: an answer goes out before every result added after it, so the
// coordinator learns of a split before the split attempt's result. It
// outlives sessions (worker/worker.h): results wait here while the worker
// is between connections, and a batch whose Write failed comes back to the
// front. Batches stay well under the gRPC message limit; a result that
// could never fit is replaced by an error naming its size, so one huge
// payload cannot break every session.
//
// Thread-safety: none; Worker guards its outbox with its mutex.
#ifndef SHARDEX_WORKER_OUTBOX_H_
#define SHARDEX_WORKER_OUTBOX_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/split.h"
#include "proto/shardex.pb.h"

namespace shardex {

class ResultOutbox {
 public:
  // `batch_bytes`: the most a batch's results may add up to.
  explicit ResultOutbox(size_t batch_bytes) : batch_bytes_(batch_bytes) {}

  bool empty() const { return results_.empty(); }
  size_t size() const { return results_.size(); }

  // `covered`: the attempt's range (begin, end as split), for
  // Register.held while the result waits; nullopt when not known.
  void Add(shardex::v1::ShardResult result,
           std::optional<ShardRange> covered = std::nullopt);
  void AddSplit(shardex::v1::ShardSplit split);
  // Back to the front, in their order: results whose Write failed.
  void PutBack(shardex::v1::ResultBatch* batch);
  // Drops the results and split answers of cancelled jobs and attempts.
  void Forget(const shardex::v1::CancelShards& cancel);
  // Appends the refs of waiting results not already in `refs`, and to
  // `held` (if not null) their ranges where known.
  void AppendWaiting(std::vector<shardex::v1::ShardRef>* refs,
                     std::vector<shardex::v1::ShardTask>* held = nullptr) const;
  // Moves results from the front into `batch` up to batch_bytes (at least
  // one result when there is any), stopping at a split answer.
  void TakeBatch(shardex::v1::ResultBatch* batch);
  // The next message: the split answer at the front, or else TakeBatch.
  void TakeMessage(shardex::v1::WorkerMessage* msg);

 private:
  // A result, or (split set) an answer to SplitShard. Kept small: a
  // worker of trivial shards queues a result per shard here, and the
  // deque allocates a block per few entries.
  struct Entry {
    shardex::v1::ShardResult result;
    ShardRange covered{0, 0};
    bool has_covered = false;
    std::unique_ptr<shardex::v1::ShardSplit> split;  // rare
    const shardex::v1::ShardRef& ref() const {
      return split ? split->ref() : result.ref();
    }
  };

  const size_t batch_bytes_;
  std::deque<Entry> results_;
};

}  // namespace shardex

#endif  // SHARDEX_WORKER_OUTBOX_H_
