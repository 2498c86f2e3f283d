// Adaptive shards: a range job without --shards is cut as slots free up,
// stragglers are split when nothing is left to cut, and the job survives a
// coordinator restart; the answer is exact whatever the cuts.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "coordinator/scheduler_test_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// Primes below 64 and below 10^5.
constexpr uint64_t kPrimesBelow64 = 18;
constexpr uint64_t kPrimesBelow1e5 = 9592;

v1::JobSpec AdaptivePrimes(uint64_t to) { return Primes(to, 0); }

// The SplitShard messages sent on `link`.
std::vector<v1::SplitShard> Splits(const FakeWorkerLink& link) {
  std::vector<v1::SplitShard> out;
  for (const v1::CoordinatorMessage& m : link.sent()) {
    if (m.has_split()) out.push_back(m.split());
  }
  return out;
}

class SchedulerAdaptiveTest : public SchedulerTest {
 protected:
  // The payload of the primes kernel over [begin, end).
  std::string PrimesPayload(uint64_t to, uint64_t begin, uint64_t end) {
    const v1::JobSpec spec = AdaptivePrimes(to);
    KernelArgs args(spec.args().begin(), spec.args().end());
    auto runner = CreateShardRunner(spec.kernel(), args);
    EXPECT_TRUE(runner.ok()) << runner.status();
    auto payload = RunWholeShard(**runner, {begin, end});
    EXPECT_TRUE(payload.ok()) << payload.status();
    return *payload;
  }

  // Reports `t` as covering [t.begin, end) after a split.
  void ReportSplit(uint64_t worker, const v1::ShardTask& t, uint64_t end,
                   const std::string& payload) {
    v1::ResultBatch batch;
    v1::ShardResult* r = batch.add_results();
    *r->mutable_ref() = t.ref();
    r->set_ok(true);
    r->set_payload(payload);
    r->set_runtime_us(100000);
    r->set_end(end);
    ASSERT_TRUE(sched_->OnResults(worker, batch).ok());
  }

  void AckSplit(uint64_t worker, const v1::ShardRef& ref, bool ok,
                uint64_t at) {
    v1::ShardSplit split;
    *split.mutable_ref() = ref;
    split.set_ok(ok);
    split.set_at(at);
    sched_->OnSplit(worker, split);
  }
};

TEST_F(SchedulerAdaptiveTest, RangeJobWithoutShardsIsCutAsItRuns) {
  auto submitted = sched_->Submit(AdaptivePrimes(100000));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_TRUE(submitted->adaptive());
  EXPECT_EQ(submitted->spec().shards(), 0u);
  EXPECT_EQ(submitted->shards_total(), 0u);  // no slot yet: nothing cut
  EXPECT_EQ(submitted->units_total(), 100000u);

  auto [w, link] = AddWorker(2);
  std::vector<v1::ShardTask> seen;
  for (int round = 0; round < 10000; ++round) {
    std::vector<v1::ShardTask> tasks = link->TakeTasks();
    if (tasks.empty()) break;
    // Never more than the worker's slots: shards are cut for free slots.
    EXPECT_LE(tasks.size(), 2u);
    seen.insert(seen.end(), tasks.begin(), tasks.end());
    RunAndReport(w, submitted->spec(), tasks);
  }
  const v1::JobStatus end = WaitEnd(submitted->job_id());
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.result().value(), absl::StrCat(kPrimesBelow1e5));
  EXPECT_EQ(end.shards_total(), seen.size());
  EXPECT_EQ(end.units_done(), 100000u);
  // The first shards are probes; later ones are sized from their cost,
  // and all of them tile the range in order.
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen[0].end() - seen[0].begin(), 100000u / 64 + 1);
  std::sort(seen.begin(), seen.end(),
            [](const v1::ShardTask& a, const v1::ShardTask& b) {
              return a.begin() < b.begin();
            });
  uint64_t at = 0;
  for (const v1::ShardTask& t : seen) {
    EXPECT_EQ(t.begin(), at);
    at = t.end();
  }
  EXPECT_EQ(at, 100000u);
}

TEST_F(SchedulerAdaptiveTest, ShardsGiveTheExactCount) {
  auto fixed = sched_->Submit(Primes(100000, 8));
  ASSERT_TRUE(fixed.ok());
  EXPECT_FALSE(fixed->adaptive());
  EXPECT_EQ(fixed->shards_total(), 8u);
}

TEST_F(SchedulerAdaptiveTest, TargetShardTimeIsChecked) {
  v1::JobSpec spec = AdaptivePrimes(1000);
  spec.set_target_shard_time_ms(3'600'001);
  ExpectStatus(sched_->Submit(spec).status(),
               absl::StatusCode::kInvalidArgument, "target_shard_time_ms",
               "more than an hour");
}

// Worker A runs a long shard; B drains everything else and idles: A is
// asked to split, and the rest runs on B.
class SplitTest : public SchedulerAdaptiveTest {
 protected:
  void SetUp() override { StartStraggler(AdaptivePrimes(64)); }

  void StartStraggler(const v1::JobSpec& spec) {
    auto submitted = sched_->Submit(spec);
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    job_ = submitted->job_id();
    spec_ = submitted->spec();
    std::tie(a_, a_link_) = AddWorker(1);
    std::vector<v1::ShardTask> probe = a_link_->TakeTasks();
    ASSERT_EQ(probe.size(), 1u);
    RunAndReport(a_, spec_, probe);  // now the cost is known
    std::vector<v1::ShardTask> held = a_link_->TakeTasks();
    ASSERT_EQ(held.size(), 1u);
    long_ = held[0];
    std::tie(b_, b_link_) = AddWorker(1);
    // B takes whatever is cut until nothing is left.
    for (int i = 0; i < 1000; ++i) {
      std::vector<v1::ShardTask> tasks = b_link_->TakeTasks();
      if (tasks.empty()) break;
      RunAndReport(b_, spec_, tasks);
    }
  }

  uint64_t job_ = 0;
  v1::JobSpec spec_;
  uint64_t a_ = 0, b_ = 0;
  std::shared_ptr<FakeWorkerLink> a_link_, b_link_;
  v1::ShardTask long_;
};

TEST_F(SplitTest, IdleSlotsSplitTheStragglerAndTheAnswerIsExact) {
  std::vector<v1::SplitShard> splits = Splits(*a_link_);
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(splits[0].ref().shard(), long_.ref().shard());
  EXPECT_GT(splits[0].keep(), 0.0);
  EXPECT_LT(splits[0].keep(), 1.0);
  EXPECT_TRUE(Splits(*b_link_).empty());

  const uint64_t at = long_.begin() + (long_.end() - long_.begin()) / 2;
  AckSplit(a_, long_.ref(), true, at);
  std::vector<v1::ShardTask> rest = b_link_->TakeTasks();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].begin(), at);
  EXPECT_EQ(rest[0].end(), long_.end());
  RunAndReport(b_, spec_, rest);
  ReportSplit(a_, long_, at, PrimesPayload(64, long_.begin(), at));

  const v1::JobStatus end = WaitEnd(job_);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.result().value(), absl::StrCat(kPrimesBelow64));
  EXPECT_EQ(end.splits(), 1u);
  EXPECT_EQ(end.units_done(), 64u);
}

// wordcount reads its byte range whole (it cannot stop at a new end): the
// coordinator does not ask it to split, though slots are idle.
class UnsplittableKernelTest : public SplitTest {
 protected:
  void SetUp() override {
    path_ = testing::TempDir() + "/unsplittable-words.txt";
    std::string words;
    for (int i = 0; i < 20000; ++i) absl::StrAppend(&words, "w", i % 97, " ");
    ASSERT_TRUE(WriteFileAtomically(path_, words).ok());
    v1::JobSpec spec;
    spec.set_kernel("wordcount");
    (*spec.mutable_args())["files"] = path_;
    spec.set_shared_fs(true);
    StartStraggler(spec);
  }
  void TearDown() override { std::remove(path_.c_str()); }

  std::string path_;
};

TEST_F(UnsplittableKernelTest, IsNotAskedToSplit) {
  sched_->Tick();
  EXPECT_TRUE(Splits(*a_link_).empty());
  RunAndReport(a_, spec_, {long_});
  const v1::JobStatus end = WaitEnd(job_);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.splits(), 0u);
}

TEST_F(SplitTest, ARefusedSplitIsNotAskedAgain) {
  ASSERT_EQ(Splits(*a_link_).size(), 1u);
  AckSplit(a_, long_.ref(), false, 0);
  sched_->Tick();
  RunAndReport(b_, spec_, b_link_->TakeTasks());  // nothing: no new shard
  EXPECT_EQ(Splits(*a_link_).size(), 1u);
  RunAndReport(a_, spec_, {long_});
  const v1::JobStatus end = WaitEnd(job_);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.result().value(), absl::StrCat(kPrimesBelow64));
  EXPECT_EQ(end.splits(), 0u);
}

TEST_F(SplitTest, AResultForTheRangeBeforeTheSplitIsDropped) {
  const uint64_t at = long_.begin() + 1;
  AckSplit(a_, long_.ref(), true, at);
  std::vector<v1::ShardTask> rest = b_link_->TakeTasks();
  ASSERT_EQ(rest.size(), 1u);
  // A reports the whole old range (no end): that would count [at, end)
  // twice. It is dropped and the shard runs again.
  RunAndReport(a_, spec_, {long_});
  v1::JobStatus now = Job(job_);
  EXPECT_EQ(now.discarded_results(), 1u);
  RunAndReport(b_, spec_, rest);
  // A was free first: the shard, now [begin, at), runs there again.
  std::vector<v1::ShardTask> again = a_link_->TakeTasks();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].ref().shard(), long_.ref().shard());
  EXPECT_GT(again[0].ref().attempt(), long_.ref().attempt());
  EXPECT_EQ(again[0].begin(), long_.begin());
  EXPECT_EQ(again[0].end(), at);
  RunAndReport(a_, spec_, again);
  const v1::JobStatus end = WaitEnd(job_);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.result().value(), absl::StrCat(kPrimesBelow64));
}

class AdaptiveRecoveryTest : public JournaledSchedulerTest {};

TEST_F(AdaptiveRecoveryTest, ARestartKeepsTheAcceptedRangesAndCutsTheRest) {
  auto submitted = sched_->Submit(AdaptivePrimes(100000));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const uint64_t job = submitted->job_id();
  {
    auto [w, link] = AddWorker(2);
    for (int i = 0; i < 3; ++i) RunAndReport(w, submitted->spec(), link->TakeTasks());
    ASSERT_GT(Job(job).units_done(), 0u);
  }
  const uint64_t done_before = Job(job).units_done();
  Reopen();
  v1::JobStatus resumed = Job(job);
  EXPECT_TRUE(resumed.adaptive());
  EXPECT_EQ(resumed.units_done(), done_before);
  EXPECT_EQ(resumed.shards_succeeded(), resumed.shards_total());
  auto [w, link] = AddWorker(2);
  for (int i = 0; i < 10000; ++i) {
    std::vector<v1::ShardTask> tasks = link->TakeTasks();
    if (tasks.empty()) break;
    RunAndReport(w, submitted->spec(), tasks);
  }
  const v1::JobStatus end = WaitEnd(job);
  ASSERT_EQ(end.state(), v1::JOB_SUCCEEDED) << end.error();
  EXPECT_EQ(end.result().value(), absl::StrCat(kPrimesBelow1e5));
}

}  // namespace
}  // namespace shardex
