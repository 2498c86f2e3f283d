#include "worker/outbox.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/shard_ref_key.h"

namespace shardex {

namespace {

// What goes out instead of a result that can never be sent, rather than
// breaking every session. Small, but not checked against the limit again
// (a limit below a few dozen bytes must not loop).
v1::ShardResult TooLarge(const v1::ShardResult& r) {
  v1::ShardResult failed;
  *failed.mutable_ref() = r.ref();
  failed.set_runtime_us(r.runtime_us());
  failed.set_error(absl::StrCat("result of ", r.ByteSizeLong(),
                                " bytes exceeds the message limit"));
  return failed;
}

}  // namespace

void ResultOutbox::Add(v1::ShardResult result,
                       std::optional<ShardRange> covered) {
  Entry& e = results_.emplace_back();
  e.result = std::move(result);
  if (covered.has_value()) {
    e.covered = *covered;
    e.has_covered = true;
  }
}

void ResultOutbox::AddSplit(v1::ShardSplit split) {
  results_.emplace_back().split =
      std::make_unique<v1::ShardSplit>(std::move(split));
}

void ResultOutbox::PutBack(v1::ResultBatch* batch) {
  auto* results = batch->mutable_results();
  for (int i = results->size() - 1; i >= 0; --i) {
    results_.emplace_front().result = std::move(*results->Mutable(i));
  }
}

void ResultOutbox::Forget(const v1::CancelShards& cancel) {
  const absl::flat_hash_set<uint64_t> jobs(cancel.job_ids().begin(),
                                           cancel.job_ids().end());
  std::set<ShardRefKey> refs;
  for (const v1::ShardRef& ref : cancel.shards()) refs.insert(KeyOf(ref));
  results_.erase(std::remove_if(results_.begin(), results_.end(),
                                [&](const Entry& e) {
                                  return jobs.contains(e.ref().job_id()) ||
                                         refs.count(KeyOf(e.ref())) > 0;
                                }),
                 results_.end());
}

void ResultOutbox::AppendWaiting(std::vector<v1::ShardRef>* refs,
                                 std::vector<v1::ShardTask>* held) const {
  std::set<ShardRefKey> seen;
  for (const v1::ShardRef& ref : *refs) seen.insert(KeyOf(ref));
  for (const Entry& e : results_) {
    if (e.split || !seen.insert(KeyOf(e.ref())).second) continue;
    refs->push_back(e.ref());
    if (held == nullptr || !e.has_covered) continue;
    v1::ShardTask& task = held->emplace_back();
    *task.mutable_ref() = e.ref();
    task.set_begin(e.covered.begin);
    task.set_end(e.covered.end);
  }
}

void ResultOutbox::TakeBatch(v1::ResultBatch* batch) {
  size_t bytes = 0;
  while (!results_.empty() && !results_.front().split) {
    v1::ShardResult& r = results_.front().result;
    size_t size = r.ByteSizeLong();
    if (size > batch_bytes_) {
      r = TooLarge(r);
      size = r.ByteSizeLong();
    }
    if (batch->results_size() > 0 && bytes + size > batch_bytes_) break;
    bytes += size;
    *batch->add_results() = std::move(r);
    results_.pop_front();
  }
}

void ResultOutbox::TakeMessage(v1::WorkerMessage* msg) {
  if (!results_.empty() && results_.front().split) {
    *msg->mutable_split() = std::move(*results_.front().split);
    results_.pop_front();
    return;
  }
  TakeBatch(msg->mutable_results());
}

}  // namespace shardex
