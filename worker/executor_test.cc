#include "worker/executor.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

namespace v1 = ::shardex::v1;

// Collects results from pool threads.
class Results {
 public:
  void Add(v1::ShardResult r) {
    absl::MutexLock lock(&mu_);
    results_.push_back(std::move(r));
  }
  // Waits until `n` results arrived (or 30 s passed) and returns them.
  std::vector<v1::ShardResult> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return results_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return results_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return results_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::ShardResult> results_ ABSL_GUARDED_BY(mu_);
};

v1::AssignmentBatch Batch(uint64_t job, const std::string& kernel,
                          std::map<std::string, std::string> args,
                          std::vector<std::pair<uint64_t, uint64_t>> ranges) {
  v1::AssignmentBatch b;
  v1::JobDefinition* def = b.add_jobs();
  def->set_job_id(job);
  def->set_kernel(kernel);
  for (auto& [k, v] : args) (*def->mutable_args())[k] = v;
  for (size_t i = 0; i < ranges.size(); ++i) {
    v1::ShardTask* t = b.add_tasks();
    t->mutable_ref()->set_job_id(job);
    t->mutable_ref()->set_shard(i);
    t->mutable_ref()->set_attempt(1);
    t->set_begin(ranges[i].first);
    t->set_end(ranges[i].second);
  }
  return b;
}

TEST(ShardExecutorTest, RunsShardsAndReportsPayloads) {
  Results results;
  ShardExecutor exec({2, 1}, [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(1, "primes", {{"to", "1000"}}, {{0, 500}, {500, 1000}}));
  auto got = results.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  uint64_t total = 0;
  for (const auto& r : got) {
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.ref().job_id(), 1u);
    total += std::stoull(r.payload());
  }
  EXPECT_EQ(total, 168u);  // pi(1000)
  EXPECT_EQ(exec.InFlight(), 0u);
}

TEST(ShardExecutorTest, BadJobDefinitionFailsItsTasks) {
  Results results;
  ShardExecutor exec({1, 1}, [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(2, "nosuchkernel", {}, {{0, 1}}));
  auto got = results.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].ok());
  EXPECT_NE(got[0].error().find("nosuchkernel"), std::string::npos);
}

TEST(ShardExecutorTest, CancelledJobReportsNothingAndStopsEarly) {
  Results results;
  ShardExecutor exec({1, 1}, [&](v1::ShardResult r) { results.Add(std::move(r)); });
  // Two 60-second shards on one thread: only a cancel ends this quickly.
  exec.Assign(Batch(3, "sleep", {{"ms", "60000"}}, {{0, 1}, {1, 2}}));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(exec.InFlight(), 2u);
  v1::CancelShards cancel;
  cancel.add_job_ids(3);
  const absl::Time start = absl::Now();
  exec.Cancel(cancel);
  while (exec.InFlight() > 0 && absl::Now() - start < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(exec.InFlight(), 0u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(results.size(), 0u);
}

TEST(ShardExecutorTest, CancelOneAttemptLeavesTheOthers) {
  Results results;
  ShardExecutor exec({2, 1}, [&](v1::ShardResult r) { results.Add(std::move(r)); });
  exec.Assign(Batch(4, "sleep", {{"ms", "60000"}}, {{0, 1}}));
  v1::AssignmentBatch quick = Batch(5, "sleep", {{"ms", "0"}}, {{0, 1}});
  exec.Assign(quick);
  auto got = results.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref().job_id(), 5u);
  v1::CancelShards cancel;
  v1::ShardRef* ref = cancel.add_shards();
  ref->set_job_id(4);
  ref->set_shard(0);
  ref->set_attempt(1);
  exec.Cancel(cancel);
  while (exec.InFlight() > 0) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(results.size(), 1u);
}

}  // namespace
}  // namespace shardex
