#include "cli/output_download.h"

#include <sys/stat.h>

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/staging_plan.h"
#include "common/file_util.h"

namespace shardex {

namespace {

// How long Finish waits for the coordinator to list _SUCCESS (it writes
// the outputs as the job ends).
constexpr int kFinishTries = 40;
constexpr absl::Duration kFinishWait = absl::Milliseconds(250);

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::Status PrepareLocalOutputs(const v1::JobSpec& spec) {
  for (const auto& [param, path] : OutputParams(spec)) {
    const std::string dir = Dirname(path);
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", param, " ", path, ": directory ", dir,
          " does not exist on this host (the file is written here, by "
          "shardex, when the job has succeeded)"));
    }
  }
  if (spec.output_dir().empty()) return absl::OkStatus();
  return PrepareOutputDir(spec.output_dir());  // errors name --output
}

std::unique_ptr<OutputDownload> OutputDownload::For(CoordinatorClient& client,
                                            uint64_t job_id,
                                            const v1::JobSpec& spec) {
  if (spec.shared_fs()) return nullptr;
  OutputTargets targets;
  targets.dir = spec.output_dir();
  targets.params = OutputParams(spec);
  if (targets.dir.empty() && targets.params.empty()) return nullptr;
  return std::unique_ptr<OutputDownload>(
      new OutputDownload(client, job_id, std::move(targets)));
}

OutputDownload::OutputDownload(CoordinatorClient& client, uint64_t job_id,
                       OutputTargets targets)
    : job_id_(job_id),
      store_(client),
      fetcher_(store_, job_id, std::move(targets)) {}

void OutputDownload::OnUpdate(absl::Time now) {
  if (poll_failed_ || now - last_poll_ < kPollInterval) return;
  last_poll_ = now;
  absl::Status st = fetcher_.FetchNew();
  if (st.ok()) return;
  poll_failed_ = true;
  std::cerr << "shardex: downloading the outputs of job " << job_id_ << ": "
            << st.message() << " (trying again when it ends)\n";
}

absl::Status OutputDownload::Finish(v1::JobState state) {
  if (state != v1::JOB_SUCCEEDED) return fetcher_.FetchNew();
  for (int i = 0; i < kFinishTries; ++i) {
    absl::StatusOr<bool> complete = fetcher_.FetchAll();
    if (!complete.ok()) return complete.status();
    if (*complete) return absl::OkStatus();
    absl::SleepFor(kFinishWait);
  }
  return absl::UnavailableError(
      absl::StrCat("job ", job_id_,
                   " succeeded but the coordinator has not listed all of "
                   "its outputs yet"));
}

}  // namespace shardex
