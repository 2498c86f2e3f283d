// spec_fuzzer: a JobSpec (binary proto, else text format) goes through the
// coordinator's SubmitJob path (Scheduler::Submit: the JobPlanner's checks,
// the kernel's create with the fuzzed args for every registered kernel or
// the command checks, shard-count checks, the summary, queueing and
// dispatch to a connected worker), then is looked up, listed, resubmitted
// with the same request id and cancelled.
// It must never crash, hang or allocate without bound, and the answers
// must be consistent (FUZZ_CHECK).
//
// File-system paths in the spec are mapped into a sandbox first (see
// fuzz_env.h for why and how).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/fake_clock.h"
#include "coordinator/scheduler.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_env.h"
#include "fuzz/null_link.h"
#include "proto/shardex.pb.h"

namespace shardex {
namespace fuzz {
namespace {

void SubmitAndCancel(const v1::JobSpec& spec) {
  Scheduler::Options options;
  options.max_shards_per_job = MaxShardsPerJob();
  options.allow_commands = true;
  options.commands.scratch_dir = Sandbox().scratch;
  FakeClock clock;
  Scheduler scheduler(options, &clock);

  // A connected worker, so a job is also split for a real cluster size and
  // its first shards are dispatched (JobDefinition built from the spec).
  auto link = std::make_shared<NullLink>();
  v1::Register reg;
  reg.set_host("fuzz");
  reg.set_slots(4);
  reg.set_processes(2);
  absl::StatusOr<uint64_t> worker = scheduler.AddWorker(reg, "fuzz:1", link);
  FUZZ_CHECK(worker.ok(), "AddWorker: %s", worker.status().ToString().c_str());

  const std::string request_id = "fuzz-request";
  absl::StatusOr<v1::JobStatus> submitted = scheduler.Submit(spec, request_id);
  if (Verbose()) {
    std::fprintf(stderr, "spec: %s\nsubmit: %s\n",
                 spec.ShortDebugString().c_str(),
                 submitted.ok() ? submitted->ShortDebugString().c_str()
                                : submitted.status().ToString().c_str());
  }
  if (!submitted.ok()) {
    FUZZ_CHECK(scheduler.ListJobs().empty(), "a refused job was kept");
    // The request id was forgotten, and validation is deterministic: the
    // same answer again.
    absl::StatusOr<v1::JobStatus> again = scheduler.Submit(spec, request_id);
    FUZZ_CHECK(again.status().code() == submitted.status().code(),
               "resubmit: %s then %s", submitted.status().ToString().c_str(),
               again.status().ToString().c_str());
    scheduler.RemoveWorker(*worker);
    return;
  }

  const uint64_t id = submitted->job_id();
  // An adaptive job (a range without --shards) has no count up front: its
  // shards are cut as slots free up, never more than the limit.
  const bool adaptive = submitted->adaptive();
  const uint64_t shards = adaptive ? submitted->shards_total()
                                   : submitted->spec().shards();
  FUZZ_CHECK(adaptive ? submitted->spec().shards() == 0 &&
                            shards <= options.max_shards_per_job
                      : shards >= 1 && shards <= options.max_shards_per_job,
             "accepted shard count %llu (adaptive %d)",
             static_cast<unsigned long long>(shards), adaptive);
  FUZZ_CHECK(submitted->shards_total() == shards, "shards_total %llu != %llu",
             static_cast<unsigned long long>(submitted->shards_total()),
             static_cast<unsigned long long>(shards));
  FUZZ_CHECK(submitted->state() == v1::JOB_QUEUED ||
                 submitted->state() == v1::JOB_RUNNING,
             "new job in state %d", submitted->state());

  // What the worker was sent: shards of this job, inside it, and never
  // empty (ValidateShardCount's promise) unless the job is one shard of an
  // empty range.
  for (const v1::ShardTask& task : link->tasks()) {
    FUZZ_CHECK(task.ref().job_id() == id && task.ref().shard() < shards,
               "task %s", task.ShortDebugString().c_str());
    FUZZ_CHECK(task.begin() < task.end() ||
                   (!adaptive && shards == 1 && task.begin() == task.end()),
               "empty shard: task %s of %llu", task.ShortDebugString().c_str(),
               static_cast<unsigned long long>(shards));
  }

  absl::StatusOr<v1::JobStatus> got = scheduler.GetJob(id);
  FUZZ_CHECK(got.ok(), "GetJob: %s", got.status().ToString().c_str());
  // A one-line summary of bounded size, and progress without the spec.
  FUZZ_CHECK(!got->summary().empty() &&
                 got->summary().size() <= JobPlanner::kMaxSummaryBytes + 3 &&
                 got->summary().find('\n') == std::string::npos,
             "summary: %s", got->summary().c_str());
  absl::StatusOr<v1::JobStatus> progress =
      scheduler.GetJob(id, JobView::kProgress);
  FUZZ_CHECK(progress.ok() && !progress->has_spec() &&
                 progress->summary() == got->summary(),
             "progress: %s", progress.status().ToString().c_str());

  // Idempotent submit: the same job, not a second one.
  absl::StatusOr<v1::JobStatus> retried = scheduler.Submit(spec, request_id);
  FUZZ_CHECK(retried.ok() && retried->job_id() == id, "retried submit: %s",
             retried.status().ToString().c_str());
  FUZZ_CHECK(scheduler.ListJobs().size() == 1, "%zu jobs",
             scheduler.ListJobs().size());

  absl::StatusOr<v1::JobStatus> cancelled = scheduler.Cancel(id);
  FUZZ_CHECK(cancelled.ok() && cancelled->state() == v1::JOB_CANCELLED,
             "Cancel: %s", cancelled.status().ToString().c_str());
  scheduler.RemoveWorker(*worker);
}

}  // namespace
}  // namespace fuzz
}  // namespace shardex

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardex;
  fuzz::Sandbox();
  v1::JobSpec spec;
  if (!fuzz::ParseSpec(data, size, &spec)) return -1;  // not a JobSpec
  fuzz::SanitizeSpec(spec);
  fuzz::SubmitAndCancel(spec);
  if (!spec.output_dir().empty()) fuzz::ResetOutputs();
  return 0;
}
