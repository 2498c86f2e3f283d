#include "coordinator/placement.h"

#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// A job of `total` shards, all queued.
Job QueuedJob(uint64_t id, uint64_t total, bool command = false) {
  Job job;
  job.id = id;
  job.total = total;
  job.is_command = command;
  job.shards.resize(total);
  for (uint64_t i = 0; i < total; ++i) job.queue.push_back(i);
  return job;
}

ConnectedWorker& AddWorker(WorkerMap& workers, uint64_t id, uint32_t slots,
                           uint32_t processes = 0) {
  ConnectedWorker& w = workers[id];
  w.id = id;
  w.reg.set_slots(slots);
  w.reg.set_processes(processes);
  return w;
}

void FailOn(Job& job, uint64_t shard, uint64_t worker_id) {
  ShardSlot& slot = job.shards[shard];
  if (slot.history == nullptr) slot.history = std::make_unique<ShardHistory>();
  slot.history->failed_on.push_back(worker_id);
}

TEST(PlacementTest, CapacityIsSlotsUntilShardsAreKnownShort) {
  SchedulerOptions options;  // 20 ms window
  WorkerMap workers;
  ConnectedWorker& w = AddWorker(workers, 1, 2, 3);
  Job kernel = QueuedJob(1, 10);
  Job command = QueuedJob(2, 10, /*command=*/true);
  EXPECT_EQ(placement::Capacity(kernel, w, options), 2u);
  EXPECT_EQ(placement::Capacity(command, w, options), 3u);
  kernel.avg_runtime_us = 1'000'000;  // long: slots only
  EXPECT_EQ(placement::Capacity(kernel, w, options), 2u);
  kernel.avg_runtime_us = 1000;  // 1 ms: 20 ahead per slot
  EXPECT_EQ(placement::Capacity(kernel, w, options), 42u);
  kernel.avg_runtime_us = 0.001;  // capped at max_prefetch
  EXPECT_EQ(placement::Capacity(kernel, w, options), 2 + options.max_prefetch);
  w.draining = true;
  EXPECT_EQ(placement::Capacity(kernel, w, options), 0u);
}

TEST(PlacementTest, PrefetchesExactlyWhenCapacityExceedsTheSlots) {
  WorkerMap workers;
  ConnectedWorker& w = AddWorker(workers, 1, 2, 3);
  for (const uint64_t max_prefetch : {uint64_t{0}, uint64_t{8192}}) {
    SchedulerOptions options;  // 20 ms window
    options.max_prefetch = max_prefetch;
    for (const double avg_us : {-1.0, 1e6, 20'001.0, 20'000.0, 19'999.0,
                                1000.0, 0.001}) {
      Job job = QueuedJob(1, 10);
      job.avg_runtime_us = avg_us;
      EXPECT_EQ(placement::Prefetches(job, options),
                placement::Capacity(job, w, options) > 2)
          << "avg " << avg_us << " us, max_prefetch " << max_prefetch;
    }
  }
}

// What Dispatch relies on to visit only the workers that are not Full().
TEST(PlacementTest, FullWorkerGetsNoJobUnlessAQueuedJobPrefetches) {
  SchedulerOptions options;
  WorkerMap workers;
  ConnectedWorker& w = AddWorker(workers, 1, 2, 1);
  JobMap jobs;
  jobs[1] = QueuedJob(1, 10);
  jobs[2] = QueuedJob(2, 10, /*command=*/true);
  jobs[3] = QueuedJob(3, 10);
  jobs[3].queue.clear();  // nothing queued: its length does not matter
  jobs[1].avg_runtime_us = jobs[2].avg_runtime_us = 1e6;
  jobs[3].avg_runtime_us = 1000;
  const std::vector<uint64_t> active = {1, 2, 3};
  w.Hold(1, 0, 1, /*command=*/false);
  w.Hold(1, 1, 1, /*command=*/false);
  EXPECT_FALSE(w.Full());  // a process slot is free
  EXPECT_EQ(placement::PickJobFor(w, active, jobs, workers, {}, options), 2u);
  w.Hold(2, 0, 1, /*command=*/true);
  ASSERT_TRUE(w.Full());
  EXPECT_FALSE(placement::AnyQueuedJobPrefetches(active, jobs, options));
  EXPECT_EQ(placement::PickJobFor(w, active, jobs, workers, {}, options), 0u);
  jobs[1].avg_runtime_us = 1000;  // short now: 20 ahead per slot
  EXPECT_TRUE(placement::AnyQueuedJobPrefetches(active, jobs, options));
  EXPECT_EQ(placement::PickJobFor(w, active, jobs, workers, {}, options), 1u);
}

TEST(PlacementTest, HeldForCountsTheJobsKindOfSlot) {
  WorkerMap workers;
  ConnectedWorker& w = AddWorker(workers, 1, 4, 4);
  w.Hold(1, 0, 1, /*command=*/false);
  w.Hold(2, 0, 1, /*command=*/true);
  w.Hold(2, 1, 1, /*command=*/true);
  EXPECT_EQ(placement::HeldFor(QueuedJob(1, 1), w), 1u);
  EXPECT_EQ(placement::HeldFor(QueuedJob(2, 2, true), w), 2u);
}

TEST(PlacementTest, QuarantineHoldsOnlyWhileAnotherWorkerCanRunTheJob) {
  WorkerMap workers;
  ConnectedWorker& bad = AddWorker(workers, 1, 1);
  ConnectedWorker& good = AddWorker(workers, 2, 1);
  Job job = QueuedJob(1, 4);
  job.quarantined.insert(bad.id);
  EXPECT_TRUE(placement::Quarantined(job, bad, workers));
  EXPECT_FALSE(placement::Eligible(job, bad, workers));
  EXPECT_TRUE(placement::Eligible(job, good, workers));
  good.draining = true;  // the only other worker leaves the job alone
  EXPECT_FALSE(placement::Quarantined(job, bad, workers));
  EXPECT_TRUE(placement::Eligible(job, bad, workers));
  EXPECT_FALSE(placement::Eligible(job, good, workers));
  // No process slots: not eligible for a command job.
  EXPECT_FALSE(placement::Eligible(QueuedJob(2, 1, true), bad, workers));
}

TEST(PlacementTest, FreeSlotServesTheJobWithFewestRunningShards) {
  SchedulerOptions options;
  WorkerMap workers;
  ConnectedWorker& w = AddWorker(workers, 1, 4);
  JobMap jobs;
  jobs[1] = QueuedJob(1, 10);
  jobs[1].running = 3;
  jobs[2] = QueuedJob(2, 10);
  jobs[2].running = 1;
  jobs[3] = QueuedJob(3, 10);
  jobs[3].queue.clear();  // nothing to run
  const std::vector<uint64_t> active = {1, 2, 3};
  absl::flat_hash_set<uint64_t> skip;
  EXPECT_EQ(placement::PickJobFor(w, active, jobs, workers, skip, options), 2u);
  skip.insert(2);
  EXPECT_EQ(placement::PickJobFor(w, active, jobs, workers, skip, options), 1u);
  for (int i = 0; i < 4; ++i) w.Hold(1, i, 1, false);  // w is full
  EXPECT_EQ(placement::PickJobFor(w, active, jobs, workers, skip, options), 0u);
}

TEST(PlacementTest, ShardThatFailedHereWaitsForAnotherWorker) {
  WorkerMap workers;
  ConnectedWorker& w1 = AddWorker(workers, 1, 1);
  ConnectedWorker& w2 = AddWorker(workers, 2, 1);
  Job job = QueuedJob(1, 3);
  FailOn(job, 0, w1.id);
  EXPECT_EQ(placement::PickQueuedShard(job, w1, workers), 1u);  // passes 0
  EXPECT_EQ(placement::PickQueuedShard(job, w2, workers), 0u);
  FailOn(job, 0, w2.id);  // failed everywhere: anyone may retry it
  EXPECT_EQ(placement::PickQueuedShard(job, w1, workers), 0u);
  Job one = QueuedJob(2, 1);
  FailOn(one, 0, w1.id);
  EXPECT_EQ(placement::PickQueuedShard(one, w1, workers), std::nullopt);
  w2.draining = true;  // the only worker left takes it
  EXPECT_EQ(placement::PickQueuedShard(one, w1, workers), 0u);
}

TEST(PlacementTest, BackupsOnlyNearTheEndOnAnIdleOtherWorker) {
  SchedulerOptions::Speculation speculation;  // after 75%
  WorkerMap workers;
  ConnectedWorker& w1 = AddWorker(workers, 1, 1);
  ConnectedWorker& w2 = AddWorker(workers, 2, 1);
  Job job = QueuedJob(1, 4);
  job.queue.clear();
  job.succeeded = 2;
  job.running = 2;
  EXPECT_FALSE(placement::WantsBackups(job, speculation));
  job.succeeded = 3;
  job.running = 1;
  EXPECT_TRUE(placement::WantsBackups(job, speculation));
  job.reducing = true;
  EXPECT_FALSE(placement::WantsBackups(job, speculation));
  job.reducing = false;
  EXPECT_EQ(placement::StragglerLimit(job, speculation),
            speculation.min_runtime);  // no samples yet

  ShardSlot& slot = job.shards[3];
  slot.state = v1::SHARD_RUNNING;
  slot.running.push_back(RunningAttempt{1, w1.id});
  EXPECT_EQ(placement::PickTwin(job, slot, workers), &w2);
  w2.Hold(9, 0, 1, false);  // busy
  EXPECT_EQ(placement::PickTwin(job, slot, workers), nullptr);
  w2.Release(9, 0);
  FailOn(job, 3, w2.id);  // it failed there before
  EXPECT_EQ(placement::PickTwin(job, slot, workers), nullptr);
}

// An adaptive job measured at 1 us per unit with its shards [0, 1000000)
// on worker 1 and [1000000, 1100000) on worker 2, both running since t0.
Job RunningAdaptiveJob(absl::Time t0) {
  Job job;
  job.id = 1;
  job.adaptive = true;
  job.carver = RangeCarver(0, 1'100'000, {});
  job.carver.Remove({0, 1'100'000});
  job.carver.Observe(1'000'000, 1'000'000);
  for (uint64_t w = 1; w <= 2; ++w) {
    const uint64_t shard =
        job.AddShard(w == 1 ? ShardRange{0, 1'000'000}
                            : ShardRange{1'000'000, 1'100'000},
                     false);
    job.queue.clear();
    job.StartAttempt(shard, w, t0, false);
  }
  return job;
}

TEST(PlacementTest, PickSplitTakesTheShardWithTheMostWorkLeft) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Job job = RunningAdaptiveJob(t0);
  const absl::Duration min_rest = absl::Milliseconds(20);
  // 0.1 s in: shard 0 has ~0.9 s left, shard 1 none.
  std::optional<placement::SplitChoice> c =
      placement::PickSplit(job, t0 + absl::Milliseconds(100), 1.0, min_rest);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->shard, 0u);
  EXPECT_DOUBLE_EQ(c->keep, 0.5);  // equal speeds: half each
  // Its worker is 4x slower than the idle one: it keeps a fifth.
  job.cost_by_worker[1] = 4.0;
  c = placement::PickSplit(job, t0 + absl::Milliseconds(100), 1.0, min_rest);
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ(c->keep, 0.2);
  // Asked already, or refused: not again.
  job.shards[0].running[0].split_pending = true;
  c = placement::PickSplit(job, t0 + absl::Milliseconds(100), 1.0, min_rest);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->shard, 1u);
  job.shards[1].running[0].split_refused = true;
  EXPECT_FALSE(
      placement::PickSplit(job, t0 + absl::Milliseconds(100), 1.0, min_rest)
          .has_value());
}

TEST(PlacementTest, PickSplitDoesNotTrustAnEstimateAWorkerOutran) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Job job = RunningAdaptiveJob(t0);
  // 0.95 s into a 1 s shard: by its old cost it is nearly done, but its
  // worker may have stopped; it may need half as long again.
  std::optional<placement::SplitChoice> c = placement::PickSplit(
      job, t0 + absl::Milliseconds(950), 1.0, absl::Milliseconds(400));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->shard, 0u);
  // Nothing is measured yet: no split.
  Job fresh = RunningAdaptiveJob(t0);
  fresh.carver = RangeCarver(0, 1, {});
  EXPECT_FALSE(placement::PickSplit(fresh, t0 + absl::Seconds(5), 1.0,
                                    absl::Milliseconds(20))
                   .has_value());
}

}  // namespace
}  // namespace shardex
