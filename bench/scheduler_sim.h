// Scheduler simulation: the real coordinator Scheduler (coordinator/
// scheduler.h) driving thousands of simulated workers with no network and
// no real waiting, to measure what dispatch costs per shard and how close
// a job of fixed-length shards gets to the ideal makespan.
//
// Workers are in-process WorkerLinks that queue what the scheduler sends
// them; time is a FakeClock. A simulated worker starts an assigned task
// when it has a free slot (prefetched ones wait in its queue, as in the
// worker's executor), "runs" it for the shard time (times its slowness),
// and reports every task that finished at the same simulated instant in
// one ResultBatch, as the worker's outbox does. Cancelled attempts (a twin
// won, the job ended) stop without a result. Every worker heartbeats at
// the interval the Registered message gives, and Tick() runs at the
// coordinator's tick interval, so speculation and worker timeouts behave
// as in production.
//
// Dispatch cost: every Scheduler call is timed for real (wall and thread
// CPU). Unless `charge` is kNone, the fake clock then also moves by the
// call's wall (or CPU) time: the coordinator is serialized under one lock,
// so the time it spends delays every later dispatch and result, and the
// makespan shows it.
//
// Thread-safety: RunSimulation is self-contained; calls may run on
// different threads at once (they share nothing but the kernel registry).
#ifndef SHARDEX_BENCH_SCHEDULER_SIM_H_
#define SHARDEX_BENCH_SCHEDULER_SIM_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shardex {

struct SimOptions {
  uint32_t workers = 1000;
  uint32_t slots = 2;  // per worker
  uint64_t shards = 100'000;
  absl::Duration shard_time = absl::Milliseconds(100);
  // What each Scheduler call adds to the fake clock: its wall time (the
  // default), its thread CPU time (steadier on a loaded machine: another
  // process's time slices are not counted), or nothing (pure simulated
  // time).
  enum class Charge { kWall, kCpu, kNone };
  Charge charge = Charge::kWall;
  // This fraction of the workers (spread evenly) runs every shard
  // `slow_factor` times slower.
  double slow_fraction = 0;
  double slow_factor = 4;
  bool speculation = true;
  // CoordinatorServer's default (coordinator/server.h).
  absl::Duration tick_interval = absl::Milliseconds(100);
};

// Real time spent in one kind of Scheduler call.
struct CallCost {
  uint64_t calls = 0;
  absl::Duration wall;
  absl::Duration cpu;  // the calling thread's CPU time
};

struct SimReport {
  SimOptions options;
  absl::Duration makespan;  // simulated: submit to the last shard accepted
  // ceil(M / (N*S)) * R: whole waves of shards on identical workers.
  absl::Duration ideal_waves;
  // M * R / (sum of each slot's speed): perfectly divisible work.
  absl::Duration ideal_even;
  CallCost submit, results, tick, heartbeat;
  // The cost of timing an empty call, subtracted from every call.
  absl::Duration timer_wall, timer_cpu;
  uint64_t result_batches = 0;  // OnResults calls
  uint64_t results_sent = 0;    // ShardResults in them
  uint64_t speculative_attempts = 0;
  uint64_t discarded_results = 0;
  uint64_t retries = 0;
  // Real time from the last shard accepted to the job reading SUCCEEDED
  // (the reducer thread's Reduce; not in the makespan).
  absl::Duration reduce_wall;
  uint64_t attempts_logged = 0;  // AttemptRecords checked
  uint64_t attempts_dropped = 0;  // beyond the shard log's cap, unchecked
  int64_t peak_rss_kb = 0;  // whole process, simulator included

  absl::Duration SchedulerWall() const {
    return submit.wall + results.wall + tick.wall + heartbeat.wall;
  }
  absl::Duration SchedulerCpu() const {
    return submit.cpu + results.cpu + tick.cpu + heartbeat.cpu;
  }
};

// Runs one job of `options.shards` fixed-length shards (the built-in
// "sleep" kernel; it needs //kernels:builtin linked in) to the end, then
// checks it: the job SUCCEEDED, its counts add up to the shards, the result
// is the shard count (each payload "1"), and the shard log shows exactly
// one accepted attempt per shard. An error names the first check that
// failed, or the option that is out of range.
absl::StatusOr<SimReport> RunSimulation(const SimOptions& options);

}  // namespace shardex

#endif  // SHARDEX_BENCH_SCHEDULER_SIM_H_
