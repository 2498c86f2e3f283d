// The scheduler simulation's own checks (every shard accepted exactly once,
// the job SUCCEEDED) on small clusters: correctness only, no timings.
#include "bench/scheduler_sim.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

SimOptions Small() {
  SimOptions o;
  o.workers = 20;
  o.slots = 2;
  o.shards = 200;
  return o;
}

TEST(SchedulerSimTest, EveryShardAcceptedOnceInPureSimulatedTime) {
  SimOptions o = Small();
  o.charge = SimOptions::Charge::kNone;
  absl::StatusOr<SimReport> r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->results_sent, 200u);  // no backups: identical workers
  EXPECT_EQ(r->attempts_logged, 200u);
  // 200 shards on 40 slots: five whole waves, exactly.
  EXPECT_EQ(r->makespan, r->ideal_waves);
}

TEST(SchedulerSimTest, EveryShardAcceptedOnceWithTheClockCharged) {
  absl::StatusOr<SimReport> r = RunSimulation(Small());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->makespan, r->ideal_waves);
}

TEST(SchedulerSimTest, SlowWorkersGetBackupsAndTheLosersAreCancelled) {
  SimOptions o = Small();
  o.charge = SimOptions::Charge::kNone;
  o.slow_fraction = 0.1;
  o.slow_factor = 20;  // 2 s shards: past speculation's 1 s minimum
  absl::StatusOr<SimReport> r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->speculative_attempts, 0u);
}

TEST(SchedulerSimTest, ShortShardsArePrefetched) {
  SimOptions o = Small();
  o.charge = SimOptions::Charge::kNone;
  o.shards = 2000;
  o.shard_time = absl::Milliseconds(1);  // under the 20 ms prefetch window
  absl::StatusOr<SimReport> r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->result_batches, r->results_sent);
}

TEST(SchedulerSimTest, RefusesNoWorkers) {
  SimOptions o = Small();
  o.workers = 0;
  EXPECT_EQ(RunSimulation(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shardex
