// submit, status, watch, cancel, jobs, workers, local: the client side.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "command/command_job.h"
#include "common/job_state.h"

namespace shardex {

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "shardex: " << status.message() << "\n";
  return ExitCodeFor(status);
}

int ExitCodeForJob(const v1::JobStatus& s) {
  switch (s.state()) {
    case v1::JOB_SUCCEEDED:
      return kExitOk;
    case v1::JOB_CANCELLED:
      return kExitCancelled;
    default:
      return kExitJobFailed;
  }
}

// What the coordinator would reject anyway, checked before `local` starts
// any process.
absl::Status CheckLocally(const v1::JobSpec& spec) {
  if (spec.has_command()) {
    return CreateCommandJob(spec.command(), CommandPolicy{}).status();
  }
  KernelArgs args(spec.args().begin(), spec.args().end());
  return CreateKernelJob(spec.kernel(), args).status();
}

// Follows a job to its end: progress on a terminal, then the result on
// stdout (the value alone, or JSON) and a summary on stderr.
int WaitForJob(CoordinatorClient& client, uint64_t job_id,
               const WaitOptions& wait) {
  const bool show = wait.progress && isatty(STDERR_FILENO);
  ProgressLine progress(stderr);
  absl::StatusOr<v1::JobStatus> final_status =
      client.Watch(job_id, [&](const v1::JobStatus& s) {
        if (show && !IsTerminal(s.state())) progress.Update(s, absl::Now());
      });
  progress.Clear();
  if (!final_status.ok()) return Fail(final_status.status());
  const v1::JobStatus& s = *final_status;
  if (wait.json) {
    std::cout << ToJson(s) << "\n";
  } else if (s.state() == v1::JOB_SUCCEEDED) {
    // Command outputs end in a newline already; kernel answers do not.
    const std::string& value = s.result().value();
    std::cout << value;
    if (!value.empty() && value.back() != '\n') std::cout << "\n";
  }
  std::cout.flush();
  if (!wait.json || s.state() != v1::JOB_SUCCEEDED) {
    std::cerr << FormatOutcome(s) << "\n";
  }
  return ExitCodeForJob(s);
}

}  // namespace

int RunSubmit(const SubmitCommand& cmd) {
  CoordinatorClient client(cmd.client);
  absl::StatusOr<v1::JobStatus> status = client.Submit(cmd.job);
  if (!status.ok()) return Fail(status.status());
  if (cmd.detach) {
    if (cmd.wait.json) {
      std::cout << ToJson(*status) << "\n";
    } else {
      std::cout << status->job_id() << "\n";
    }
    return kExitOk;
  }
  return WaitForJob(client, status->job_id(), cmd.wait);
}

int RunStatus(const ClientOptions& options, uint64_t job_id, bool json) {
  CoordinatorClient client(options);
  absl::StatusOr<v1::JobStatus> status = client.GetJob(job_id);
  if (!status.ok()) return Fail(status.status());
  std::cout << (json ? ToJson(*status) + "\n" : FormatJob(*status));
  return kExitOk;
}

int RunWatch(const ClientOptions& options, uint64_t job_id,
             const WaitOptions& wait) {
  CoordinatorClient client(options);
  return WaitForJob(client, job_id, wait);
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

int RunLocal(const LocalCommand& cmd) {
  // Reject a bad job before starting any process.
  if (absl::Status st = CheckLocally(cmd.job); !st.ok()) return Fail(st);

  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
      LocalCluster::Start(cmd.cluster);
  if (!cluster.ok()) return Fail(cluster.status());
  ClientOptions client_options;
  client_options.coordinator = (*cluster)->address();
  client_options.token = (*cluster)->token();
  CoordinatorClient client(client_options);
  absl::StatusOr<v1::JobStatus> status = client.Submit(cmd.job);
  if (!status.ok()) return Fail(status.status());
  return WaitForJob(client, status->job_id(), cmd.wait);
}

}  // namespace shardex
