#include "bench/scheduler_sim.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/sim_cluster.h"
#include "common/fake_clock.h"
#include "common/job_state.h"
#include "coordinator/scheduler.h"
#include "kernels/payload.h"
#include "proto/shardex.pb.h"

namespace shardex {
namespace {

// How long, in real time, the reducer may take once every shard is in.
constexpr absl::Duration kReduceWait = absl::Seconds(120);

absl::Duration ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

int64_t PeakRssKb() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

absl::Status CheckOptions(const SimOptions& o) {
  if (o.workers == 0) return absl::InvalidArgumentError("--workers must be >= 1");
  if (o.slots == 0) return absl::InvalidArgumentError("--slots must be >= 1");
  if (o.shards == 0) return absl::InvalidArgumentError("--shards must be >= 1");
  if (o.shard_time <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--shard-ms must be > 0");
  }
  if (!(o.slow_fraction >= 0 && o.slow_fraction <= 1)) {
    return absl::InvalidArgumentError("--slow-fraction must be in [0, 1]");
  }
  if (!(o.slow_factor >= 1)) {
    return absl::InvalidArgumentError("--slow-factor must be >= 1");
  }
  if (o.tick_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--tick-ms must be > 0");
  }
  return absl::OkStatus();
}

class Simulation {
 public:
  explicit Simulation(const SimOptions& options) : o_(options) {
    report_.options = options;
    report_.timer_wall = overhead_.wall;
    report_.timer_cpu = overhead_.cpu;
  }

  absl::StatusOr<SimReport> Run() {
    Scheduler::Options so;
    so.speculation.enabled = o_.speculation;
    so.max_shards_per_job = std::max(so.max_shards_per_job, o_.shards);
    so.max_worker_slots = std::max(so.max_worker_slots, o_.slots);
    sched_ = std::make_unique<Scheduler>(so, &clock_);
    // Registered's interval (scheduler.cc): three heartbeats per timeout.
    const absl::Duration heartbeat =
        std::min(so.heartbeat_interval, so.heartbeat_timeout / 3);
    if (absl::Status st = AddWorkers(); !st.ok()) return st;

    const absl::Time start = clock_.Now();
    v1::JobSpec spec;
    spec.set_kernel("sleep");  // fixed shards; never run here
    (*spec.mutable_args())["ms"] =
        absl::StrCat(absl::ToInt64Milliseconds(o_.shard_time));
    spec.set_shards(o_.shards);
    absl::StatusOr<v1::JobStatus> submitted =
        Timed(report_.submit, [&] { return sched_->Submit(spec); });
    if (!submitted.ok()) return submitted.status();
    Deliver();

    // Far beyond any sane makespan: the job is stuck.
    const absl::Duration give_up =
        100 * (o_.slow_factor * o_.shard_time * o_.shards /
               (static_cast<double>(o_.workers) * o_.slots)) +
        absl::Minutes(10);
    absl::Time next_tick = clock_.Now() + o_.tick_interval;
    absl::Time next_heartbeat = start + heartbeat;
    while (accepted_ < o_.shards) {
      if (absl::Status st = cluster_.closed(); !st.ok()) return st;
      const absl::Time finish = cluster_.NextFinish();
      const absl::Time next = std::min({finish, next_tick, next_heartbeat});
      if (next > clock_.Now()) clock_.Advance(next - clock_.Now());
      if (clock_.Now() - start > give_up) {
        return absl::DeadlineExceededError(absl::StrCat(
            "simulated job stuck: ", accepted_, " of ", o_.shards,
            " shards reported after ", absl::FormatDuration(give_up)));
      }
      if (next == finish) {
        if (absl::Status st = DeliverResults(start); !st.ok()) return st;
      } else if (next == next_tick) {
        Timed(report_.tick, [&] { sched_->Tick(); return 0; });
        Deliver();
        // The server waits a tick interval after each Tick returns.
        next_tick = clock_.Now() + o_.tick_interval;
      } else {
        for (uint32_t i = 0; i < cluster_.size(); ++i) {
          Timed(report_.heartbeat, [&] {
            sched_->OnHeartbeat(cluster_.id(i));
            return 0;
          });
        }
        next_heartbeat += heartbeat;
      }
    }
    if (absl::Status st = WaitAndCheck(submitted->job_id()); !st.ok()) {
      return st;
    }
    report_.ideal_waves =
        o_.shard_time *
        static_cast<double>((o_.shards + uint64_t{o_.workers} * o_.slots - 1) /
                            (uint64_t{o_.workers} * o_.slots));
    double speed = 0;  // shards per shard_time, all slots together
    for (uint32_t i = 0; i < cluster_.size(); ++i) {
      speed += o_.slots * absl::FDivDuration(o_.shard_time, cluster_.run_time(i));
    }
    report_.ideal_even = o_.shard_time * (o_.shards / speed);
    report_.peak_rss_kb = PeakRssKb();
    return report_;
  }

 private:
  // What Measure reports for an empty call: subtracted from each call's
  // figures (reading the thread CPU clock is a system call, about as long
  // as an OnHeartbeat).
  struct Overhead {
    absl::Duration wall, cpu;
  };
  // (wall, thread CPU) time of call().
  template <typename F>
  static std::pair<absl::Duration, absl::Duration> Measure(F& call) {
    const absl::Duration cpu0 = ThreadCpu();
    const auto wall0 = std::chrono::steady_clock::now();
    call();
    const absl::Duration wall =
        absl::FromChrono(std::chrono::steady_clock::now() - wall0);
    return {wall, ThreadCpu() - cpu0};
  }
  static Overhead Calibrate() {
    constexpr int kRuns = 1001;
    std::vector<absl::Duration> walls, cpus;
    auto nothing = [] { return 0; };
    for (int i = 0; i < kRuns; ++i) {
      auto [wall, cpu] = Measure(nothing);
      walls.push_back(wall);
      cpus.push_back(cpu);
    }
    std::nth_element(walls.begin(), walls.begin() + kRuns / 2, walls.end());
    std::nth_element(cpus.begin(), cpus.begin() + kRuns / 2, cpus.end());
    return {walls[kRuns / 2], cpus[kRuns / 2]};
  }

  // Runs `call` (a Scheduler call), adds its real cost to `cost` and, when
  // charging, moves the simulated clock by its wall or CPU time.
  template <typename F>
  auto Timed(CallCost& cost, F call) -> decltype(call()) {
    decltype(call()) result;
    auto run = [&] { result = call(); };
    auto [wall, cpu] = Measure(run);
    wall = std::max(absl::ZeroDuration(), wall - overhead_.wall);
    cpu = std::max(absl::ZeroDuration(), cpu - overhead_.cpu);
    cost.wall += wall;
    cost.cpu += cpu;
    ++cost.calls;
    if (o_.charge == SimOptions::Charge::kWall) clock_.Advance(wall);
    if (o_.charge == SimOptions::Charge::kCpu) clock_.Advance(cpu);
    return result;
  }

  // Each worker's run time per shard: `slow_fraction` of them, spread
  // evenly, are `slow_factor` times slower.
  static std::vector<absl::Duration> RunTimes(const SimOptions& o) {
    std::vector<absl::Duration> times(o.workers);
    for (uint32_t i = 0; i < o.workers; ++i) {
      const bool slow = std::floor((i + 1) * o.slow_fraction) >
                        std::floor(i * o.slow_fraction);
      times[i] = o.shard_time * (slow ? o.slow_factor : 1.0);
    }
    return times;
  }

  absl::Status AddWorkers() {
    for (uint32_t i = 0; i < cluster_.size(); ++i) {
      v1::Register reg;
      reg.set_host(absl::StrCat("sim", i));
      reg.set_slots(o_.slots);
      absl::StatusOr<uint64_t> id =
          sched_->AddWorker(reg, "sim", cluster_.Link(i));
      if (!id.ok()) return id.status();
      cluster_.SetId(i, *id);
    }
    Deliver();
    return absl::OkStatus();
  }

  // Hands what the scheduler sent to the simulated workers.
  void Deliver() { cluster_.Deliver(clock_.Now()); }

  // Every attempt finished by now, one ResultBatch per worker.
  absl::Status DeliverResults(absl::Time start) {
    for (const auto& finished : cluster_.TakeFinished(clock_.Now())) {
      const v1::ResultBatch& batch = finished.second;
      absl::Status st = Timed(report_.results, [&] {
        return sched_->OnResults(cluster_.id(finished.first), batch);
      });
      if (!st.ok()) return st;
      ++report_.result_batches;
      report_.results_sent += batch.results_size();
      for (const v1::ShardResult& r : batch.results()) {
        if (r.ref().shard() < o_.shards && !reported_[r.ref().shard()]) {
          reported_[r.ref().shard()] = true;
          ++accepted_;  // the first success of a shard is the one accepted
        }
      }
      if (accepted_ == o_.shards && report_.makespan == absl::ZeroDuration()) {
        report_.makespan = clock_.Now() - start;
      }
      Deliver();
    }
    return absl::OkStatus();
  }

  // Waits (real time) for the reducer, then checks the job's end state and
  // that its shard log accepted every shard exactly once.
  absl::Status WaitAndCheck(uint64_t job_id) {
    const absl::Time real_start = absl::Now();
    absl::StatusOr<v1::JobStatus> s = sched_->GetJob(job_id);
    while (s.ok() && !IsTerminal(s->state()) &&
           absl::Now() - real_start < kReduceWait) {
      absl::SleepFor(absl::Milliseconds(1));
      s = sched_->GetJob(job_id);
    }
    report_.reduce_wall = absl::Now() - real_start;
    if (!s.ok()) return s.status();
    const uint64_t m = o_.shards;
    if (s->state() != v1::JOB_SUCCEEDED) {
      return absl::InternalError(
          absl::StrCat("job ", job_id, " is ", v1::JobState_Name(s->state()),
                       ", not JOB_SUCCEEDED: ", s->error()));
    }
    if (s->shards_total() != m || s->shards_succeeded() != m ||
        s->shards_queued() + s->shards_running() + s->shards_failed() +
                s->shards_cancelled() + s->shards_skipped() !=
            0) {
      return absl::InternalError(absl::StrCat(
          "shard totals do not add up to ", m, ": ", s->summary()));
    }
    if (s->result().value() != absl::StrCat(m) || s->result_mismatches() != 0) {
      return absl::InternalError(absl::StrCat(
          "result ", s->result().value(), " (", s->result_mismatches(),
          " mismatches); expected ", m, " shards of payload 1"));
    }
    report_.speculative_attempts = s->speculative_attempts();
    report_.discarded_results = s->discarded_results();
    report_.retries = s->retries();
    return CheckShardLog(job_id);
  }

  absl::Status CheckShardLog(uint64_t job_id) {
    std::vector<uint8_t> accepted(o_.shards, 0);
    v1::ListAttemptsRequest req;
    req.set_job_id(job_id);
    while (true) {
      absl::StatusOr<v1::ListAttemptsResponse> page = sched_->ListAttempts(req);
      if (!page.ok()) return page.status();
      report_.attempts_dropped = page->dropped();
      for (const v1::AttemptRecord& a : page->attempts()) {
        ++report_.attempts_logged;
        if (a.outcome() != v1::ATTEMPT_SUCCEEDED) continue;
        if (a.shard() >= o_.shards || ++accepted[a.shard()] > 1) {
          return absl::InternalError(absl::StrCat(
              "shard ", a.shard(), " accepted twice (or out of range)"));
        }
      }
      if (!page->more()) break;
      req.set_start(page->next());
    }
    const uint64_t missing = std::count(accepted.begin(), accepted.end(), 0);
    // Attempts beyond the log's cap are only counted; each may hide one.
    if (missing > report_.attempts_dropped) {
      return absl::InternalError(absl::StrCat(
          missing, " shards have no accepted attempt in the shard log"));
    }
    return absl::OkStatus();
  }

  const SimOptions o_;
  const Overhead overhead_ = Calibrate();
  FakeClock clock_;
  // Every sleep shard's payload is 1.
  SimCluster cluster_{RunTimes(o_), o_.slots, EncodeCount(1)};
  // Declared after cluster_ and clock_, so destroyed before them.
  std::unique_ptr<Scheduler> sched_;
  std::vector<bool> reported_ = std::vector<bool>(o_.shards, false);
  uint64_t accepted_ = 0;  // shards with an ok result delivered
  SimReport report_;
};

}  // namespace

absl::StatusOr<SimReport> RunSimulation(const SimOptions& options) {
  if (absl::Status st = CheckOptions(options); !st.ok()) return st;
  Simulation sim(options);
  return sim.Run();
}

}  // namespace shardex
