#include "worker/outbox.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

v1::ShardResult Result(uint64_t job, uint64_t shard, size_t payload = 10) {
  v1::ShardResult r;
  r.mutable_ref()->set_job_id(job);
  r.mutable_ref()->set_shard(shard);
  r.mutable_ref()->set_attempt(1);
  r.set_ok(true);
  r.set_payload(std::string(payload, 'x'));
  return r;
}

std::vector<uint64_t> Shards(const v1::ResultBatch& batch) {
  std::vector<uint64_t> out;
  for (const v1::ShardResult& r : batch.results()) out.push_back(r.ref().shard());
  return out;
}

TEST(ResultOutboxTest, BatchesStayUnderTheLimitInOrder) {
  const size_t one = Result(1, 0, 100).ByteSizeLong();
  ResultOutbox outbox(2 * one + one / 2);
  for (uint64_t s = 0; s < 5; ++s) outbox.Add(Result(1, s, 100));
  v1::ResultBatch batch;
  outbox.TakeBatch(&batch);
  EXPECT_EQ(Shards(batch), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(outbox.size(), 3u);
}

// The limit is below even the error's size: it still goes out, once.
TEST(ResultOutboxTest, OversizeResultBecomesAnErrorNamingItsSize) {
  ResultOutbox outbox(20);
  v1::ShardResult big = Result(1, 0, 1000);
  big.set_runtime_us(7);
  outbox.Add(big);
  v1::ResultBatch batch;
  outbox.TakeBatch(&batch);
  ASSERT_EQ(batch.results_size(), 1);
  const v1::ShardResult& r = batch.results(0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.ref().shard(), 0u);
  EXPECT_EQ(r.runtime_us(), 7);
  EXPECT_EQ(r.error(), absl::StrCat("result of ", big.ByteSizeLong(),
                                    " bytes exceeds the message limit"));
  EXPECT_TRUE(outbox.empty());
}

TEST(ResultOutboxTest, UnsentBatchGoesBackToTheFrontInOrder) {
  ResultOutbox outbox(1 << 20);
  for (uint64_t s = 0; s < 3; ++s) outbox.Add(Result(1, s));
  v1::ResultBatch batch;
  outbox.TakeBatch(&batch);
  outbox.Add(Result(1, 3));
  outbox.PutBack(&batch);
  v1::ResultBatch again;
  outbox.TakeBatch(&again);
  EXPECT_EQ(Shards(again), (std::vector<uint64_t>{0, 1, 2, 3}));
}

TEST(ResultOutboxTest, ForgetDropsCancelledJobsAndAttempts) {
  ResultOutbox outbox(1 << 20);
  outbox.Add(Result(1, 0));
  outbox.Add(Result(2, 0));
  outbox.Add(Result(2, 1));
  outbox.Add(Result(3, 0));
  v1::CancelShards cancel;
  cancel.add_job_ids(1);
  *cancel.add_shards() = Result(2, 1).ref();
  outbox.Forget(cancel);
  std::vector<v1::ShardRef> refs;
  outbox.AppendWaiting(&refs);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].job_id(), 2u);
  EXPECT_EQ(refs[0].shard(), 0u);
  EXPECT_EQ(refs[1].job_id(), 3u);
}

TEST(ResultOutboxTest, WaitingRefsAreNotListedTwice) {
  ResultOutbox outbox(1 << 20);
  outbox.Add(Result(1, 0));
  outbox.Add(Result(1, 1));
  std::vector<v1::ShardRef> refs = {Result(1, 0).ref()};  // still held too
  outbox.AppendWaiting(&refs);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[1].shard(), 1u);
}

// Split answers keep their place: results added before one go out in a
// batch before it, results added after it in a batch after it.
TEST(ResultOutboxTest, SplitAnswerGoesOutBetweenTheResultsAroundIt) {
  ResultOutbox outbox(1 << 20);
  outbox.Add(Result(1, 0));
  v1::ShardSplit split;
  split.mutable_ref()->set_job_id(1);
  split.mutable_ref()->set_shard(1);
  split.set_ok(true);
  split.set_at(42);
  outbox.AddSplit(split);
  outbox.Add(Result(1, 1));
  std::vector<v1::ShardRef> refs;
  std::vector<v1::ShardTask> held;
  outbox.AppendWaiting(&refs, &held);
  EXPECT_EQ(refs.size(), 2u);  // results only
  EXPECT_TRUE(held.empty());   // no ranges were given

  v1::WorkerMessage first, second, third;
  outbox.TakeMessage(&first);
  EXPECT_EQ(Shards(first.results()), (std::vector<uint64_t>{0}));
  outbox.TakeMessage(&second);
  ASSERT_TRUE(second.has_split());
  EXPECT_EQ(second.split().at(), 42u);
  outbox.TakeMessage(&third);
  EXPECT_EQ(Shards(third.results()), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(outbox.empty());
}

TEST(ResultOutboxTest, WaitingResultsReportTheRangesTheyCovered) {
  ResultOutbox outbox(1 << 20);
  v1::ShardResult r = Result(2, 0);
  r.set_end(15);
  outbox.Add(r, ShardRange{10, 15});
  std::vector<v1::ShardRef> refs;
  std::vector<v1::ShardTask> held;
  outbox.AppendWaiting(&refs, &held);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].ref().job_id(), 2u);
  EXPECT_EQ(held[0].begin(), 10u);
  EXPECT_EQ(held[0].end(), 15u);
}

}  // namespace
}  // namespace shardex
