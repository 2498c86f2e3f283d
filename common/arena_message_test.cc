#include "common/arena_message.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/shardex.pb.h"

namespace shardex {
namespace {

// A batch of `n` results, serialized as a worker sends it.
std::string ResultBatchBytes(int n) {
  v1::WorkerMessage msg;
  for (int i = 0; i < n; ++i) {
    v1::ShardResult* r = msg.mutable_results()->add_results();
    r->mutable_ref()->set_job_id(7);
    r->mutable_ref()->set_shard(i);
    r->mutable_ref()->set_attempt(1);
    r->set_ok(true);
    r->set_payload(std::to_string(i * 3));
  }
  return msg.SerializeAsString();
}

TEST(ArenaMessageTest, EachReadStartsEmptyAndParsesWhole) {
  ArenaMessage<v1::WorkerMessage> in(/*first_block=*/4096);
  ASSERT_TRUE(in.Fresh()->ParseFromString(ResultBatchBytes(1000)));
  ASSERT_EQ(in->results().results_size(), 1000);
  EXPECT_EQ(in->results().results(999).payload(), "2997");
  EXPECT_EQ(in->results().results(999).ref().shard(), 999u);

  v1::WorkerMessage heartbeat;
  heartbeat.mutable_heartbeat()->set_jobs_known(3);
  ASSERT_TRUE(in.Fresh()->ParseFromString(heartbeat.SerializeAsString()));
  EXPECT_FALSE(in->has_results());  // nothing left of the last read
  EXPECT_EQ(in->heartbeat().jobs_known(), 3u);
  EXPECT_EQ(in.get()->GetArena() != nullptr, true);
}

TEST(ArenaMessageTest, FreshGivesBackAllButTheFirstBlock) {
  ArenaMessage<v1::WorkerMessage> in(/*first_block=*/4096);
  ASSERT_TRUE(in.Fresh()->ParseFromString(ResultBatchBytes(5000)));
  EXPECT_GT(in.SpaceAllocated(), 100000u);  // the batch went on the arena
  in.Fresh();
  EXPECT_LE(in.SpaceAllocated(), 4096u);
}

}  // namespace
}  // namespace shardex
