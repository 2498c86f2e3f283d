#include "bench/scheduler_sim.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <queue>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/fake_clock.h"
#include "common/job_state.h"
#include "common/shard_ref_key.h"
#include "coordinator/scheduler.h"
#include "coordinator/worker_link.h"
#include "kernels/payload.h"
#include "proto/shardex.pb.h"

namespace shardex {
namespace {

// How long, in real time, the reducer may take once every shard is in.
constexpr absl::Duration kReduceWait = absl::Seconds(120);

// What the scheduler sent, tagged with the simulated worker it went to.
// Links post here (from the caller's thread, or the reducer thread when the
// job ends); the simulation drains it after every Scheduler call.
class Mailbox {
 public:
  using Item = std::pair<uint32_t, v1::CoordinatorMessage>;

  void Post(uint32_t worker, v1::CoordinatorMessage message) {
    absl::MutexLock lock(&mu_);
    items_.emplace_back(worker, std::move(message));
  }
  void Closed(uint32_t worker, const absl::Status& reason) {
    absl::MutexLock lock(&mu_);
    if (closed_.ok()) {
      closed_ = absl::InternalError(absl::StrCat(
          "the scheduler closed simulated worker ", worker, ": ",
          reason.ToString(), " (a simulation bug: workers heartbeat)"));
    }
  }
  std::vector<Item> Take() {
    absl::MutexLock lock(&mu_);
    std::vector<Item> items;
    items.swap(items_);
    return items;
  }
  absl::Status closed() const {
    absl::MutexLock lock(&mu_);
    return closed_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Item> items_ ABSL_GUARDED_BY(mu_);
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
};

// A worker's stream, as the scheduler sees it: Send only queues, like the
// gRPC link, so its cost is of the same order.
class SimLink : public WorkerLink {
 public:
  SimLink(Mailbox* mailbox, uint32_t worker)
      : mailbox_(mailbox), worker_(worker) {}
  void Send(v1::CoordinatorMessage message) override {
    mailbox_->Post(worker_, std::move(message));
  }
  void Close(const absl::Status& reason) override {
    mailbox_->Closed(worker_, reason);
  }

 private:
  Mailbox* const mailbox_;
  const uint32_t worker_;
};

struct SimWorker {
  uint64_t id = 0;  // the scheduler's
  absl::Duration run_time;  // of every shard on this worker
  uint32_t busy = 0;  // slots running an attempt
  std::deque<v1::ShardRef> waiting;  // assigned ahead of a free slot
  absl::flat_hash_set<ShardRefKey> running;
};

// An attempt that ends at `at` unless cancelled first.
struct Finish {
  absl::Time at;
  uint32_t worker;
  ShardRefKey key;
};
struct LaterFirst {
  bool operator()(const Finish& a, const Finish& b) const {
    return std::tie(a.at, a.worker) > std::tie(b.at, b.worker);
  }
};

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
      if (absl::Status st = mailbox_.closed(); !st.ok()) return st;
      const absl::Time finish = finishes_.empty() ? absl::InfiniteFuture()
                                                  : finishes_.top().at;
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
        for (const SimWorker& w : workers_) {
          Timed(report_.heartbeat, [&] { sched_->OnHeartbeat(w.id); return 0; });
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
    for (const SimWorker& w : workers_) {
      speed += o_.slots * absl::FDivDuration(o_.shard_time, w.run_time);
    }
    report_.ideal_even = o_.shard_time * (o_.shards / speed);
    report_.peak_rss_kb = PeakRssKb();
    return report_;
  }

 private:
  // Runs `call` (a Scheduler call), adds its real cost to `cost` and, when
  // charging, moves the simulated clock by its wall or CPU time.
  // What Measure reports for an empty call: subtracted from each call's
  // figures (reading the thread CPU clock is a system call, about as long
  // as an OnHeartbeat).
  struct Overhead {
    absl::Duration wall, cpu;
  };
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

  // Registers the workers; `slow_fraction` of them, spread evenly, slow.
  absl::Status AddWorkers() {
    workers_.resize(o_.workers);
    for (uint32_t i = 0; i < o_.workers; ++i) {
      const bool slow = std::floor((i + 1) * o_.slow_fraction) >
                        std::floor(i * o_.slow_fraction);
      workers_[i].run_time = o_.shard_time * (slow ? o_.slow_factor : 1.0);
      v1::Register reg;
      reg.set_host(absl::StrCat("sim", i));
      reg.set_slots(o_.slots);
      absl::StatusOr<uint64_t> id = sched_->AddWorker(
          reg, "sim", std::make_shared<SimLink>(&mailbox_, i));
      if (!id.ok()) return id.status();
      workers_[i].id = *id;
    }
    Deliver();
    return absl::OkStatus();
  }

  // Hands what the scheduler sent to the simulated workers.
  void Deliver() {
    const absl::Time now = clock_.Now();
    for (auto& [i, msg] : mailbox_.Take()) {
      SimWorker& w = workers_[i];
      if (msg.has_assignments()) {
        for (const v1::ShardTask& t : msg.assignments().tasks()) {
          w.waiting.push_back(t.ref());
        }
      } else if (msg.has_cancel()) {
        Cancel(w, msg.cancel());
      }  // Registered; nothing else is sent for a sleep job
      StartWaiting(i, now);
    }
  }

  // A cancelled attempt stops without a result (worker/executor.h).
  static void Cancel(SimWorker& w, const v1::CancelShards& cancel) {
    for (const v1::ShardRef& ref : cancel.shards()) {
      if (w.running.erase(KeyOf(ref)) > 0) {
        --w.busy;
        continue;
      }
      auto it = std::find_if(w.waiting.begin(), w.waiting.end(),
                             [&](const v1::ShardRef& r) {
                               return KeyOf(r) == KeyOf(ref);
                             });
      if (it != w.waiting.end()) w.waiting.erase(it);
    }
    for (uint64_t job : cancel.job_ids()) {
      for (auto it = w.running.begin(); it != w.running.end();) {
        if (std::get<0>(*it) == job) {
          w.running.erase(it++);
        } else {
          ++it;
        }
      }
      w.busy = w.running.size();
      w.waiting.erase(std::remove_if(w.waiting.begin(), w.waiting.end(),
                                     [&](const v1::ShardRef& r) {
                                       return r.job_id() == job;
                                     }),
                      w.waiting.end());
    }
  }

  // Starts waiting attempts on free slots of worker `i` at `at`.
  void StartWaiting(uint32_t i, absl::Time at) {
    SimWorker& w = workers_[i];
    while (w.busy < o_.slots && !w.waiting.empty()) {
      const ShardRefKey key = KeyOf(w.waiting.front());
      w.waiting.pop_front();
      if (!w.running.insert(key).second) continue;  // sent twice
      ++w.busy;
      finishes_.push({at + w.run_time, i, key});
    }
  }

  // Every attempt finished by now, one ResultBatch per worker.
  absl::Status DeliverResults(absl::Time start) {
    const absl::Time now = clock_.Now();
    std::vector<uint32_t> order;  // workers, by first finish
    absl::flat_hash_map<uint32_t, v1::ResultBatch> batches;
    while (!finishes_.empty() && finishes_.top().at <= now) {
      const Finish f = finishes_.top();
      finishes_.pop();
      SimWorker& w = workers_[f.worker];
      if (w.running.erase(f.key) == 0) continue;  // cancelled meanwhile
      --w.busy;
      auto [it, added] = batches.try_emplace(f.worker);
      if (added) order.push_back(f.worker);
      v1::ShardResult* r = it->second.add_results();
      *r->mutable_ref() = RefOf(f.key);
      r->set_ok(true);
      r->set_payload(payload_);
      r->set_runtime_us(absl::ToInt64Microseconds(w.run_time));
      // The worker's next attempt starts as this one ends, not when the
      // coordinator gets to the result.
      StartWaiting(f.worker, f.at);
    }
    for (uint32_t i : order) {
      const v1::ResultBatch& batch = batches[i];
      absl::Status st = Timed(report_.results, [&] {
        return sched_->OnResults(workers_[i].id, batch);
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
  const std::string payload_ = EncodeCount(1);  // what a sleep shard returns
  FakeClock clock_;
  Mailbox mailbox_;  // outlives the scheduler's links
  std::unique_ptr<Scheduler> sched_;
  std::vector<SimWorker> workers_;
  std::priority_queue<Finish, std::vector<Finish>, LaterFirst> finishes_;
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
