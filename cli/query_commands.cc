// status, cancel, jobs, workers: one call to the coordinator, its answer
// printed as text or JSON.
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/shared_flags.h"

namespace shardex {

namespace {

// `status JOB --shards`: the flags beyond QueryFlags.
struct ShardLogFlags {
  bool shards = false;  // --shards
  bool csv = false;     // --csv
};

// Every attempt of the job, a page at a time; `dropped` as the last page
// says.
absl::StatusOr<std::vector<v1::AttemptRecord>> FetchAttempts(
    CoordinatorClient& client, uint64_t job_id, uint64_t* dropped) {
  if (client.channel() == nullptr) return client.channel_error();
  auto stub = v1::Coordinator::NewStub(client.channel());
  std::vector<v1::AttemptRecord> all;
  v1::ListAttemptsRequest req;
  req.set_job_id(job_id);
  while (true) {
    v1::ListAttemptsResponse page;
    absl::Status st = client.Call([&](grpc::ClientContext* ctx) {
      return stub->ListAttempts(ctx, req, &page);
    });
    if (!st.ok()) return st;
    for (v1::AttemptRecord& a : *page.mutable_attempts()) {
      all.push_back(std::move(a));
    }
    *dropped = page.dropped();
    // `next` must move on; a server that says otherwise would loop forever.
    if (!page.more() || page.next() <= req.start()) return all;
    req.set_start(page.next());
  }
}

int RunShardLog(const ClientOptions& options, uint64_t job_id, bool json,
                bool csv) {
  CoordinatorClient client(options);
  uint64_t dropped = 0;
  absl::StatusOr<std::vector<v1::AttemptRecord>> attempts =
      FetchAttempts(client, job_id, &dropped);
  if (!attempts.ok()) return Fail(attempts.status());
  if (json) {
    std::cout << AttemptsToJson(*attempts);
  } else if (csv) {
    std::cout << AttemptsToCsv(*attempts);
  } else {
    std::cout << FormatAttemptTable(*attempts, dropped);
  }
  if (dropped > 0 && (json || csv)) {
    std::cerr << "shardex: " << dropped
              << " later attempts of the job were not kept (the "
                 "coordinator's cap on attempts kept per job)\n";
  }
  return kExitOk;
}

}  // namespace

Subcommand AddStatusCommand(CLI::App& app, const GlobalOptions&) {
  auto extra = std::make_shared<ShardLogFlags>();
  Subcommand sub = AddQueryCommand(
      app, "status", "show a job", /*takes_job=*/true,
      [extra](const QueryFlags& f) {
        if (extra->csv && !extra->shards) {
          return UsageError("--csv is for the shard log: add --shards");
        }
        if (extra->csv && f.json) {
          return UsageError("--json and --csv: choose one");
        }
        if (extra->shards) {
          return RunShardLog(f.client.options, f.job_id, f.json, extra->csv);
        }
        return RunStatus(f.client.options, f.job_id, f.json);
      });
  sub.app->add_flag("--shards", extra->shards,
                    "print the shard log: one row per attempt (shard, "
                    "attempt, worker, host, start, runtime, outcome, exit "
                    "code, bytes out)");
  sub.app->add_flag("--csv", extra->csv, "with --shards: print CSV");
  return sub;
}

Subcommand AddCancelCommand(CLI::App& app, const GlobalOptions&) {
  return AddQueryCommand(app, "cancel", "cancel a job", /*takes_job=*/true,
                         [](const QueryFlags& f) {
                           return RunCancel(f.client.options, f.job_id, f.json);
                         });
}

Subcommand AddJobsCommand(CLI::App& app, const GlobalOptions&) {
  return AddQueryCommand(app, "jobs", "list jobs", /*takes_job=*/false,
                         [](const QueryFlags& f) {
                           return RunJobs(f.client.options, f.json);
                         });
}

Subcommand AddWorkersCommand(CLI::App& app, const GlobalOptions&) {
  return AddQueryCommand(app, "workers", "list workers", /*takes_job=*/false,
                         [](const QueryFlags& f) {
                           return RunWorkers(f.client.options, f.json);
                         });
}

int RunStatus(const ClientOptions& options, uint64_t job_id, bool json) {
  CoordinatorClient client(options);
  absl::StatusOr<v1::JobStatus> status = client.GetJob(job_id);
  if (!status.ok()) return Fail(status.status());
  std::cout << (json ? ToJson(*status) + "\n" : FormatJob(*status));
  return kExitOk;
}

int RunCancel(const ClientOptions& options, uint64_t job_id, bool json) {
  CoordinatorClient client(options);
  absl::StatusOr<v1::JobStatus> status = client.Cancel(job_id);
  if (!status.ok()) return Fail(status.status());
  if (json) {
    std::cout << ToJson(*status) << "\n";
  } else {
    std::cout << "job " << job_id << " cancelled\n";
  }
  return kExitOk;
}

int RunJobs(const ClientOptions& options, bool json) {
  CoordinatorClient client(options);
  absl::StatusOr<std::vector<v1::JobStatus>> jobs = client.ListJobs();
  if (!jobs.ok()) return Fail(jobs.status());
  if (json) {
    v1::ListJobsResponse all;
    for (auto& j : *jobs) *all.add_jobs() = std::move(j);
    std::cout << ToJson(all) << "\n";
  } else {
    std::cout << FormatJobTable(*jobs);
  }
  return kExitOk;
}

int RunWorkers(const ClientOptions& options, bool json) {
  CoordinatorClient client(options);
  absl::StatusOr<std::vector<v1::WorkerInfo>> workers = client.ListWorkers();
  if (!workers.ok()) return Fail(workers.status());
  if (json) {
    v1::ListWorkersResponse all;
    for (auto& w : *workers) *all.add_workers() = std::move(w);
    std::cout << ToJson(all) << "\n";
  } else {
    std::cout << FormatWorkerTable(*workers);
  }
  return kExitOk;
}

}  // namespace shardex
