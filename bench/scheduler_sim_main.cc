// scheduler_sim: the coordinator's Scheduler with simulated workers and a
// fake clock (bench/scheduler_sim.h); prints dispatch cost per shard and
// efficiency against the ideal makespan, and exits 1 if the job's checks
// fail. A bench tool, so plain argv flags (bench/README.md):
//   bazel run -c opt //bench:scheduler_sim -- --workers 1000 --slots 2
//       --shards 100000 --shard-ms 100
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bench/scheduler_sim.h"
#include "glog/logging.h"

namespace shardex {
namespace {

constexpr char kUsage[] =
    "usage: scheduler_sim [--workers N] [--slots N] [--shards N]\n"
    "                     [--shard-ms MS] [--no-clock-charge | --charge-cpu]\n"
    "                     [--slow-fraction F] [--slow-factor X]\n"
    "                     [--no-speculation] [--tick-ms MS] [--log-info]\n"
    "defaults: 1000 workers x 2 slots, 100000 shards of 100 ms, no slow\n"
    "workers (--slow-fraction 0.1 --slow-factor 4: a tenth of them 4x\n"
    "slower), speculation on, Tick() every 100 ms\n";

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

void PrintCost(const char* name, const CallCost& c) {
  std::printf("  %-12s %9llu calls %10.1f ms wall %10.1f ms cpu %9.2f us/call\n",
              name, static_cast<unsigned long long>(c.calls),
              absl::ToDoubleMilliseconds(c.wall),
              absl::ToDoubleMilliseconds(c.cpu),
              c.calls == 0 ? 0.0 : absl::ToDoubleMicroseconds(c.wall) / c.calls);
}

void PrintReport(const SimReport& r) {
  const SimOptions& o = r.options;
  const double m = static_cast<double>(o.shards);
  std::printf("workers              %u x %u slots", o.workers, o.slots);
  if (o.slow_fraction > 0) {
    std::printf(" (%.0f%% of them %gx slower)", 100 * o.slow_fraction,
                o.slow_factor);
  }
  std::printf("\nshards               %llu of %g ms; speculation %s\n",
              static_cast<unsigned long long>(o.shards),
              absl::ToDoubleMilliseconds(o.shard_time),
              o.speculation ? "on" : "off");
  const char* charge =
      o.charge == SimOptions::Charge::kWall
          ? "scheduler wall time charged to the clock"
          : o.charge == SimOptions::Charge::kCpu
                ? "scheduler CPU time charged to the clock, --charge-cpu"
                : "pure simulated time, --no-clock-charge";
  std::printf("makespan             %.3f s simulated (%s)\n",
              Seconds(r.makespan), charge);
  std::printf("ideal, whole waves   %.3f s   efficiency %.4f\n",
              Seconds(r.ideal_waves), absl::FDivDuration(r.ideal_waves, r.makespan));
  std::printf("ideal, M*R/slots     %.3f s   efficiency %.4f\n",
              Seconds(r.ideal_even), absl::FDivDuration(r.ideal_even, r.makespan));
  std::printf("scheduler            %.3f s wall, %.3f s cpu: %.2f us/shard "
              "wall, %.2f us/shard cpu\n",
              Seconds(r.SchedulerWall()), Seconds(r.SchedulerCpu()),
              absl::ToDoubleMicroseconds(r.SchedulerWall()) / m,
              absl::ToDoubleMicroseconds(r.SchedulerCpu()) / m);
  std::printf("  (timing overhead %.2f us wall, %.2f us cpu per call, "
              "subtracted)\n",
              absl::ToDoubleMicroseconds(r.timer_wall),
              absl::ToDoubleMicroseconds(r.timer_cpu));
  PrintCost("Submit", r.submit);
  PrintCost("OnResults", r.results);
  PrintCost("Tick", r.tick);
  PrintCost("OnHeartbeat", r.heartbeat);
  std::printf("results              %llu in %llu batches; %llu speculative, "
              "%llu discarded, %llu retries\n",
              static_cast<unsigned long long>(r.results_sent),
              static_cast<unsigned long long>(r.result_batches),
              static_cast<unsigned long long>(r.speculative_attempts),
              static_cast<unsigned long long>(r.discarded_results),
              static_cast<unsigned long long>(r.retries));
  std::printf("reduce               %.3f s real, after the last shard (not "
              "in the makespan)\n",
              Seconds(r.reduce_wall));
  std::printf("check                SUCCEEDED, %llu shards each accepted once "
              "(%llu attempts logged, %llu beyond the log's cap)\n",
              static_cast<unsigned long long>(o.shards),
              static_cast<unsigned long long>(r.attempts_logged),
              static_cast<unsigned long long>(r.attempts_dropped));
  std::printf("peak RSS             %.1f MB (whole process)\n",
              r.peak_rss_kb / 1024.0);
}

// Parses argv into `o`; false (after printing why) on a bad flag.
bool ParseFlags(int argc, char** argv, SimOptions& o, bool& log_info) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    auto next = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    uint64_t n = 0;
    double x = 0;
    bool ok = true;
    if (flag == "--no-clock-charge") {
      o.charge = SimOptions::Charge::kNone;
    } else if (flag == "--charge-cpu") {
      o.charge = SimOptions::Charge::kCpu;
    } else if (flag == "--no-speculation") {
      o.speculation = false;
    } else if (flag == "--log-info") {
      log_info = true;
    } else if (flag == "--workers" || flag == "--slots") {
      ok = next() && absl::SimpleAtoi(value, &n) && n <= 1'000'000;
      (flag == "--workers" ? o.workers : o.slots) = static_cast<uint32_t>(n);
    } else if (flag == "--shards") {
      ok = next() && absl::SimpleAtoi(value, &o.shards);
    } else if (flag == "--shard-ms" || flag == "--tick-ms") {
      ok = next() && absl::SimpleAtod(value, &x);
      (flag == "--shard-ms" ? o.shard_time : o.tick_interval) =
          absl::Milliseconds(x);
    } else if (flag == "--slow-fraction" || flag == "--slow-factor") {
      ok = next() && absl::SimpleAtod(value, &x);
      (flag == "--slow-fraction" ? o.slow_fraction : o.slow_factor) = x;
    } else {
      std::fprintf(stderr, "unknown flag %s\n%s", argv[i], kUsage);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "bad or missing value for %s\n%s", flag.c_str(),
                   kUsage);
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  SimOptions options;
  bool log_info = false;
  if (!ParseFlags(argc, argv, options, log_info)) return 2;
  // The scheduler logs every backup attempt at INFO; only on request.
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = log_info ? 0 : 1;
  google::InitGoogleLogging(argv[0]);
  absl::StatusOr<SimReport> report = RunSimulation(options);
  if (!report.ok()) {
    std::fprintf(stderr, "scheduler_sim: %s\n",
                 report.status().ToString().c_str());
    return report.status().code() == absl::StatusCode::kInvalidArgument ? 2
                                                                         : 1;
  }
  PrintReport(*report);
  return 0;
}

}  // namespace
}  // namespace shardex

int main(int argc, char** argv) { return shardex::Main(argc, argv); }
