// status, cancel, jobs, workers: one call to the coordinator, its answer
// printed as text or JSON.
#include <iostream>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/shared_flags.h"

namespace shardex {

Subcommand AddStatusCommand(CLI::App& app, const GlobalOptions&) {
  return AddQueryCommand(app, "status", "show a job", /*takes_job=*/true,
                         [](const QueryFlags& f) {
                           return RunStatus(f.client.options, f.job_id, f.json);
                         });
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
