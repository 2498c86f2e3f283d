// fetch: a job's outputs again, from the coordinator's store into a
// directory of this host (docs/staging.md): parts, result, a kernel's
// output file as DIR/<its basename>, and `_SUCCESS` last. For a detached
// submit, or a second copy.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/job_flags.h"
#include "cli/shared_flags.h"
#include "cli/staging_plan.h"
#include "client/output_fetcher.h"
#include "client/store_client.h"
#include "common/file_util.h"
#include "common/job_state.h"

namespace shardex {

namespace {

struct FetchFlags {
  ClientFlags client;
  uint64_t job_id = 0;
  std::string dir;
};

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Subcommand AddFetchCommand(CLI::App& app, const GlobalOptions&) {
  auto flags = std::make_shared<FetchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "fetch",
      "download a job's outputs (--output parts and result, a kernel's "
      "output file) from the coordinator into DIR on this host");
  flags->client.Register(cmd);
  cmd->add_option("JOB", flags->job_id, "job id")->required();
  cmd->add_option("DIR", flags->dir,
                  "directory to write them into (created if missing)")
      ->required();
  return {cmd, [flags] {
            if (!flags->client.LoadToken()) return int{kExitUsage};
            return RunFetch(flags->client.options, flags->job_id,
                            AbsolutePath(flags->dir));
          }};
}

int RunFetch(const ClientOptions& options, uint64_t job_id,
             const std::string& dir) {
  CoordinatorClient client(options);
  absl::StatusOr<v1::JobStatus> status = client.GetJob(job_id);
  if (!status.ok()) return Fail(status.status());
  if (absl::Status st = MakeDirs(dir, 0755, "fetch DIR"); !st.ok()) {
    return Fail(st);
  }
  OutputTargets targets;
  // Parts, result and _SUCCESS exist only for a job with --output.
  if (!status->spec().output_dir().empty()) targets.dir = dir;
  for (const auto& [param, path] : OutputParams(status->spec())) {
    targets.params[param] = absl::StrCat(dir, "/", Basename(path));
  }
  StoreClient store(client);
  OutputFetcher fetcher(store, job_id, targets);
  absl::StatusOr<bool> complete = fetcher.FetchAll();
  if (!complete.ok()) return Fail(complete.status());
  if (fetcher.fetched() == 0) {
    return Fail(absl::NotFoundError(absl::StrCat(
        "job ", job_id,
        " has no outputs on the coordinator (it was "
        "submitted without --output or a kernel output file, or with "
        "--shared-fs, or it has not written any yet)")));
  }
  std::cerr << "shardex: fetched " << fetcher.fetched() << " files of job "
            << job_id << " into " << dir << "\n";
  if (!*complete) {
    std::cerr << "shardex: job " << job_id << " has not succeeded (yet): "
              << "no _SUCCESS; fetch again when it has\n";
    return IsTerminal(status->state()) ? int{kExitJobFailed} : int{kExitOk};
  }
  return kExitOk;
}

}  // namespace shardex
