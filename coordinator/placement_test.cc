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

}  // namespace
}  // namespace shardex
