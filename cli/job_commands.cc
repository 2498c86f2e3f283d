// submit, watch, local: the commands that follow a job to its end. submit
// and local also describe the job (cli/job_flags.h).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/job_flags.h"
#include "cli/output_download.h"
#include "cli/output.h"
#include "cli/quick_exit.h"
#include "cli/shared_flags.h"
#include "cli/staging_plan.h"
#include "cli/stop_signals.h"
#include "client/stager.h"
#include "client/store_client.h"
#include "command/command_job.h"
#include "common/job_state.h"
#include "glog/logging.h"

namespace shardex {

namespace {

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

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "shardex";
}

// Follows a job to its end: progress on a terminal, then the result on
// stdout (the value alone, or JSON) and a summary on stderr. With
// `outputs`, downloads the job's outputs to this host as it goes.
int WaitForJob(CoordinatorClient& client, uint64_t job_id,
               const WaitOptions& wait, OutputDownload* outputs = nullptr) {
  const bool show = wait.progress && isatty(STDERR_FILENO);
  ProgressLine progress(stderr);
  absl::StatusOr<v1::JobStatus> final_status =
      client.Watch(job_id, [&](const v1::JobStatus& s) {
        if (show && !IsTerminal(s.state())) progress.Update(s, absl::Now());
        if (outputs != nullptr && !IsTerminal(s.state())) {
          outputs->OnUpdate(absl::Now());
        }
      });
  progress.Clear();
  if (!final_status.ok()) return Fail(final_status.status());
  const v1::JobStatus& s = *final_status;
  const absl::Status downloaded =
      outputs != nullptr ? outputs->Finish(s.state()) : absl::OkStatus();
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
  if (!downloaded.ok()) {
    // The answer stands; the files on this host are incomplete.
    std::cerr << "shardex: downloading the outputs of job " << job_id << ": "
              << downloaded.message() << "; get them again with `shardex "
              << "fetch " << job_id << " DIR`\n";
    if (s.state() == v1::JOB_SUCCEEDED) return ExitCodeFor(downloaded);
  }
  return ExitCodeForJob(s);
}

// The job flags of a command that submits a job (submit, local), with what
// followed `--`.
class JobArguments {
 public:
  JobArguments(CLI::App* cmd, const GlobalOptions& global)
      : cmd_(cmd), global_(global) {
    flags_.Register(cmd);
  }

  // After Build: the --upload paths, absolute.
  std::vector<std::string> Uploads() const { return flags_.Uploads(); }

  // After a successful parse: the job, or false with a usage error printed.
  bool Build(JobRequest* job) {
    absl::StatusOr<JobRequest> built = BuildWith(cmd_->remaining());
    if (!built.ok()) {
      UsageError(built.status().message());
      return false;
    }
    *job = *std::move(built);
    return true;
  }

  // When the parser stopped at `extras`: why, in terms of kernels and
  // commands.
  std::string Explain(const std::vector<std::string>& extras) {
    return std::string(BuildWith(extras).status().message());
  }

 private:
  absl::StatusOr<JobRequest> BuildWith(const std::vector<std::string>& extras) {
    flags_.SetCommand(global_.command);
    return flags_.Build(extras);
  }

  CLI::App* const cmd_;
  const GlobalOptions& global_;
  JobFlags flags_;
};

struct SubmitFlags {
  SubmitCommand cmd;
  ClientFlags client;
  std::unique_ptr<JobArguments> job;
};

struct LocalFlags {
  LocalCommand cmd;
  std::unique_ptr<JobArguments> job;
};

}  // namespace

Subcommand AddSubmitCommand(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<SubmitFlags>();
  CLI::App* cmd = app.add_subcommand(
      "submit",
      "submit a job (a kernel, or a command after --) and follow it to its "
      "end");
  cmd->fallthrough();
  flags->client.Register(cmd);
  cmd->add_flag("--detach", flags->cmd.detach,
                "print the job id and return at once");
  cmd->add_flag("--json", flags->cmd.wait.json, "print JSON");
  flags->job = std::make_unique<JobArguments>(cmd, global);
  return {cmd,
          [flags] {
            if (!flags->job->Build(&flags->cmd.job)) return int{kExitUsage};
            flags->cmd.uploads = flags->job->Uploads();
            if (!flags->client.LoadToken()) return int{kExitUsage};
            CoordinatorClient client(flags->client.options);
            const int code = RunSubmit(client, flags->cmd);
            QuickExit(code);  // `client` stays up: no channel teardown
            return code;
          },
          [flags](const std::vector<std::string>& extras) {
            return flags->job->Explain(extras);
          }};
}

Subcommand AddWatchCommand(CLI::App& app, const GlobalOptions&) {
  return AddQueryCommand(app, "watch", "follow a job to its end",
                         /*takes_job=*/true, [](const QueryFlags& f) {
                           WaitOptions wait;
                           wait.json = f.json;
                           CoordinatorClient client(f.client.options);
                           const int code = RunWatch(client, f.job_id, wait);
                           QuickExit(code);  // as in submit
                           return code;
                         });
}

Subcommand AddLocalCommand(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<LocalFlags>();
  LocalClusterOptions& cluster = flags->cmd.cluster;
  CLI::App* cmd = app.add_subcommand(
      "local", "run a job on a private cluster of worker processes here");
  cmd->fallthrough();
  cmd->add_option("--workers", cluster.workers, "worker processes to start")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--threads", cluster.threads,
                  "kernel shards each worker runs at once (default: this "
                  "host's cores / --workers, at least 1)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--processes", cluster.processes,
                  "command shards each worker runs at once (default: as "
                  "--threads)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--json", flags->cmd.wait.json, "print JSON");
  cmd->add_option("--state-dir", cluster.state_dir,
                  "keep the coordinator's state here (default: a private "
                  "temporary directory)");
  flags->job = std::make_unique<JobArguments>(cmd, global);
  return {cmd,
          [flags, &global] {
            if (!flags->job->Build(&flags->cmd.job)) return int{kExitUsage};
            if (!flags->job->Uploads().empty()) {
              return UsageError(
                  "--upload does not go with `shardex local`: its workers "
                  "run on this host, so name the files by their paths");
            }
            // Its workers share this host, and so its files.
            flags->cmd.job.set_shared_fs(true);
            flags->cmd.cluster.self_exe = SelfExe();
            // The private cluster stays quiet unless asked; errors still
            // show.
            const bool quiet = global.log_level == "info";
            if (quiet) FLAGS_minloglevel = 2;
            flags->cmd.cluster.log_level = quiet ? "error" : global.log_level;
            return RunLocal(flags->cmd);
          },
          [flags](const std::vector<std::string>& extras) {
            return flags->job->Explain(extras);
          }};
}

int RunSubmit(CoordinatorClient& client, const SubmitCommand& cmd) {
  v1::JobSpec job = cmd.job;
  if (job.shared_fs() && !cmd.uploads.empty()) {
    return UsageError(
        "--upload does not go with --shared-fs (or SHARDEX_SHARED_FS=1): "
        "with a shared filesystem, name the files by their paths");
  }
  // This host's files and output paths first, before any call.
  if (!job.shared_fs()) {
    if (absl::Status st = PlanStaging(cmd.uploads, &job); !st.ok()) {
      return Fail(st);
    }
    if (absl::Status st = PrepareLocalOutputs(job); !st.ok()) return Fail(st);
  }
  if (job.staged_size() > 0) {
    StoreClient store(client);
    absl::StatusOr<StageReport> staged = UploadStaged(
        store, job, stderr, cmd.wait.progress && isatty(STDERR_FILENO));
    if (!staged.ok()) return Fail(staged.status());
  }
  absl::StatusOr<v1::JobStatus> status = client.Submit(job);
  if (!status.ok()) return Fail(status.status());
  const uint64_t job_id = status->job_id();
  std::unique_ptr<OutputDownload> outputs = OutputDownload::For(client, job_id, job);
  if (cmd.detach) {
    if (cmd.wait.json) {
      std::cout << ToJson(*status) << "\n";
    } else {
      std::cout << job_id << "\n";
    }
    if (outputs != nullptr) {
      std::cerr << "shardex: get the outputs of job " << job_id
                << " with `shardex fetch " << job_id << " "
                << (job.output_dir().empty() ? "DIR" : job.output_dir())
                << "`\n";
    }
    return kExitOk;
  }
  return WaitForJob(client, job_id, cmd.wait, outputs.get());
}

int RunWatch(CoordinatorClient& client, uint64_t job_id,
             const WaitOptions& wait) {
  return WaitForJob(client, job_id, wait);
}

int RunLocal(const LocalCommand& cmd) {
  // Reject a bad job before starting any process.
  if (absl::Status st = CheckLocally(cmd.job); !st.ok()) return Fail(st);

  // Before any thread starts (cli/stop_signals.h). On SIGINT or SIGTERM the
  // wait below ends, the workers stop at once and the cluster's destructor
  // removes the coordinator and its temporary directory; the exit code is
  // then 128 + the signal's number.
  StopSignals signals;
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster =
      LocalCluster::Start(cmd.cluster);
  if (!cluster.ok()) return Fail(cluster.status());
  ClientOptions client_options;
  client_options.coordinator = (*cluster)->address();
  client_options.token = (*cluster)->token();
  CoordinatorClient client(client_options);
  auto stopped_by = [](int signo) {
    return absl::StrCat("stopped by ", signo == SIGINT ? "SIGINT" : "SIGTERM",
                        "; stopping the local cluster");
  };
  signals.OnStop([&client, stopped_by](int signo) {
    client.StopWatching(stopped_by(signo));  // WaitForJob prints it
  });
  int code = kExitOk;
  if (signals.received() == 0) {
    absl::StatusOr<v1::JobStatus> status = client.Submit(cmd.job);
    if (!status.ok()) return Fail(status.status());
    code = WaitForJob(client, status->job_id(), cmd.wait);
  } else {  // during start-up
    std::cerr << "shardex: " << stopped_by(signals.received()) << "\n";
  }
  if (const int signo = signals.received(); signo != 0) {
    (*cluster)->StopWorkersNow();
    code = ExitCodeForSignal(signo);
  }
  signals.OnStop([](int) {});  // `client` goes first
  return code;
}

}  // namespace shardex
