#include "worker/executor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "worker/command_runner.h"

namespace shardex {

namespace v1 = ::shardex::v1;

ShardExecutor::ShardExecutor(Options options, ResultSink sink)
    : sink_(std::move(sink)),
      options_(std::move(options)),
      pool_(std::make_unique<ThreadPool>(options_.threads)),
      process_pool_(std::make_unique<ThreadPool>(options_.processes)) {}

ShardExecutor::~ShardExecutor() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [key, flag] : attempts_) flag->store(true);
  }
  pool_.reset();  // queued tasks see their flags and return at once
  process_pool_.reset();
}

void ShardExecutor::Assign(const v1::AssignmentBatch& batch) {
  // Kernel jobs are built outside the lock: validation may take a moment.
  std::vector<std::pair<uint64_t, absl::StatusOr<JobEntry>>> created;
  for (const v1::JobDefinition& def : batch.jobs()) {
    JobEntry entry;
    entry.shards = def.shards();
    if (def.has_command()) {
      entry.command = std::make_shared<v1::CommandSpec>(def.command());
      created.emplace_back(def.job_id(), std::move(entry));
      continue;
    }
    KernelArgs args(def.args().begin(), def.args().end());
    absl::StatusOr<std::unique_ptr<KernelJob>> kernel =
        CreateKernelJob(def.kernel(), args);
    if (!kernel.ok()) {
      created.emplace_back(def.job_id(), kernel.status());
      continue;
    }
    entry.kernel = std::move(kernel).value();
    created.emplace_back(def.job_id(), std::move(entry));
  }
  std::vector<std::pair<v1::ShardTask, JobEntry>> run;
  std::vector<v1::ShardResult> rejected;
  std::vector<std::shared_ptr<CancelFlag>> flags;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, job] : created) {
      if (job.ok()) {
        jobs_[id] = std::move(job).value();
      } else {
        bad_jobs_[id] = std::string(job.status().message());
      }
    }
    for (const v1::ShardTask& task : batch.tasks()) {
      const uint64_t job_id = task.ref().job_id();
      auto it = jobs_.find(job_id);
      if (it == jobs_.end()) {
        v1::ShardResult& r = rejected.emplace_back();
        *r.mutable_ref() = task.ref();
        auto bad = bad_jobs_.find(job_id);
        r.set_error(bad != bad_jobs_.end()
                        ? bad->second
                        : absl::StrCat("no definition for job ", job_id));
        continue;
      }
      auto flag = std::make_shared<CancelFlag>(false);
      attempts_[{job_id, task.ref().shard(), task.ref().attempt()}] = flag;
      run.emplace_back(task, it->second);
      flags.push_back(std::move(flag));
    }
  }
  for (v1::ShardResult& r : rejected) sink_(std::move(r));
  for (size_t i = 0; i < run.size(); ++i) {
    ThreadPool* pool =
        run[i].second.command ? process_pool_.get() : pool_.get();
    pool->Schedule([this, task = std::move(run[i].first),
                    job = std::move(run[i].second),
                    flag = std::move(flags[i])]() mutable {
      Run(task, job, std::move(flag));
    });
  }
}

void ShardExecutor::Cancel(const v1::CancelShards& cancel) {
  absl::MutexLock lock(&mu_);
  for (const v1::ShardRef& ref : cancel.shards()) {
    auto it = attempts_.find({ref.job_id(), ref.shard(), ref.attempt()});
    if (it != attempts_.end()) it->second->store(true);
  }
  for (uint64_t job_id : cancel.job_ids()) {
    for (auto it = attempts_.lower_bound({job_id, 0, 0});
         it != attempts_.end() && std::get<0>(it->first) == job_id; ++it) {
      it->second->store(true);
    }
    jobs_.erase(job_id);  // no more tasks of it will come
  }
}

size_t ShardExecutor::InFlight() const {
  absl::MutexLock lock(&mu_);
  return attempts_.size();
}

void ShardExecutor::Run(const v1::ShardTask& task, const JobEntry& job,
                        std::shared_ptr<CancelFlag> cancel) {
  v1::ShardResult result;
  if (!cancel->load()) {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::string> payload;
    if (job.command) {
      payload = RunCommandShard(
          CommandShard{task.ref().job_id(), job.command.get(), job.shards, task},
          options_.scratch_root, *cancel);
    } else {
      payload = job.kernel->RunShard(ShardRange{task.begin(), task.end()},
                                     *cancel);
    }
    result.set_runtime_us(absl::ToInt64Microseconds(absl::Now() - start));
    if (payload.ok()) {
      result.set_ok(true);
      result.set_payload(*std::move(payload));
    } else {
      result.set_error(payload.status().ToString());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    attempts_.erase({task.ref().job_id(), task.ref().shard(),
                     task.ref().attempt()});
    if (cancel->load() || shutting_down_) return;  // nobody wants it
  }
  *result.mutable_ref() = task.ref();
  sink_(std::move(result));
}

}  // namespace shardex
