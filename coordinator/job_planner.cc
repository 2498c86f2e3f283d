#include "coordinator/job_planner.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "command/command_job.h"
#include "common/file_util.h"
#include "common/text_checks.h"
#include "glog/logging.h"
#include "kernels/split.h"

namespace shardex {
namespace {

constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX
constexpr size_t kMaxKernelNameBytes = 64;

// `text` on one line: control bytes become spaces; cut at about `max`
// bytes, at a UTF-8 character boundary, marked with "...".
std::string OneLine(std::string text, size_t max) {
  if (text.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text.resize(cut);
    text += "...";
  }
  for (char& c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  return text;
}

}  // namespace

JobPlanner::JobPlanner(const SchedulerOptions& options, StagingEnv staging)
    : options_(options), staging_(staging) {}

absl::StatusOr<uint64_t> JobPlanner::Validate(const v1::JobSpec& spec) const {
  const uint64_t bytes = spec.ByteSizeLong();
  if (bytes > options_.max_spec_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "job spec: ", bytes, " bytes exceeds the limit of ",
        options_.max_spec_bytes,
        " bytes (raise it with the coordinator's --max-spec-bytes)"));
  }
  if (spec.kernel().size() > kMaxKernelNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kernel: a ", spec.kernel().size(), "-byte name is not a kernel name"));
  }
  if (absl::Status st = CheckNoNul("kernel", spec.kernel()); !st.ok()) {
    return st;
  }
  if (!spec.has_command() && spec.kernel().empty()) {
    return absl::InvalidArgumentError(
        "kernel: empty (a job names a kernel or gives a command)");
  }
  if (absl::Status st = CheckNoNul("output_dir (--output)", spec.output_dir());
      !st.ok()) {
    return st;
  }
  if (spec.output_dir().size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output_dir (--output): ", spec.output_dir().size(),
        " bytes, longer than a path may be (", kMaxPathBytes, ")"));
  }
  if (spec.target_shard_time_ms() > kMaxTargetShardMs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target_shard_time_ms (--target-shard-time): ",
        spec.target_shard_time_ms(), " ms is more than an hour; give at most ",
        kMaxTargetShardMs, " ms"));
  }
  if (absl::Status st = CheckStagedTable(spec); !st.ok()) return st;
  return bytes;
}

absl::StatusOr<PlannedJob> JobPlanner::Plan(v1::JobSpec& spec, bool resuming,
                                            uint64_t job_id) {
  // Pinned before the store is asked, so no Collect comes in between.
  if (staging_.store != nullptr) {
    staging_.store->Pin(job_id, StagedBlobs(spec));
  }
  absl::StatusOr<PlannedJob> planned = PlanLocalized(spec, resuming, job_id);
  if (!planned.ok() && !resuming) Abandon(job_id);
  return planned;
}

absl::StatusOr<PlannedJob> JobPlanner::PlanLocalized(v1::JobSpec& spec,
                                                     bool resuming,
                                                     uint64_t job_id) {
  if (!spec.has_command()) FillSeeds(spec);
  absl::StatusOr<LocalizedSpec> local = Localize(spec, job_id, staging_);
  if (!local.ok()) return local.status();
  if (local->keeps_outputs) {
    const std::string dir = staging_.outputs->DirOf(job_id);
    // A new job's id was never used: anything there is stale.
    if (!resuming) (void)RemoveTree(dir);
    if (absl::Status st = MakeDirs(dir, 0700, "job outputs"); !st.ok()) {
      return st;
    }
  }
  PlannedJob planned;
  planned.output_dir = local->spec.output_dir();
  planned.shared_fs = local->shared_fs;
  planned.client_paths = std::move(local->client_paths);
  if (!planned.output_dir.empty() && !resuming) {
    if (absl::Status st = PrepareOutputDir(planned.output_dir); !st.ok()) {
      return st;
    }
  }
  absl::StatusOr<std::shared_ptr<const KernelJob>> kernel =
      spec.has_command() ? PlanCommand(spec, local->spec)
                         : PlanKernel(local->spec);
  if (!kernel.ok()) return kernel.status();
  planned.kernel = *std::move(kernel);
  return planned;
}

void JobPlanner::Abandon(uint64_t job_id) const {
  if (staging_.store == nullptr) return;
  staging_.store->Unpin(job_id);
  (void)staging_.outputs->Remove(job_id);
}

void JobPlanner::Forget(uint64_t job_id) const {
  if (staging_.store == nullptr) return;
  staging_.store->Unpin(job_id);
  if (absl::Status st = staging_.outputs->Remove(job_id); !st.ok()) {
    LOG(WARNING) << "deleting the outputs of job " << job_id << ": " << st;
  }
  staging_.store->Collect();
}

void JobPlanner::PinRecovered(const v1::JobSpec& spec, uint64_t job_id) const {
  if (staging_.store != nullptr) {
    staging_.store->Pin(job_id, StagedBlobs(spec));
  }
}

void JobPlanner::RemoveOutputsExcept(
    const std::set<uint64_t>& remembered) const {
  if (staging_.outputs != nullptr) {
    staging_.outputs->RemoveAllExcept(remembered);
  }
}

void JobPlanner::FillSeeds(v1::JobSpec& spec) {
  const KernelInfo* info = FindKernel(spec.kernel());
  if (info == nullptr) return;
  for (const KernelParam& p : info->params) {
    if (p.random_if_absent && spec.args().count(p.name) == 0) {
      absl::MutexLock lock(&rng_mu_);
      (*spec.mutable_args())[p.name] =
          absl::StrCat(absl::Uniform<uint64_t>(rng_));
    }
  }
}

absl::StatusOr<std::shared_ptr<const KernelJob>> JobPlanner::PlanKernel(
    const v1::JobSpec& local) const {
  const KernelInfo* info = FindKernel(local.kernel());
  if (info == nullptr) {
    // CreateKernelJob words NOT_FOUND with the list of known kernels.
    return CreateKernelJob(local.kernel(), KernelArgs()).status();
  }
  const KernelArgs args(local.args().begin(), local.args().end());
  absl::StatusOr<std::unique_ptr<KernelJob>> job = info->create(args);
  if (!job.ok()) return job.status();
  if (*job == nullptr) {
    return absl::InternalError(
        absl::StrCat("kernel '", local.kernel(), "' created a null job"));
  }
  return std::shared_ptr<const KernelJob>(std::move(job).value());
}

absl::StatusOr<std::shared_ptr<const KernelJob>> JobPlanner::PlanCommand(
    v1::JobSpec& spec, const v1::JobSpec& local) const {
  if (!spec.kernel().empty() || !spec.args().empty()) {
    return absl::InvalidArgumentError(
        "a job runs a kernel or a command, not both");
  }
  if (!options_.allow_commands) {
    return absl::PermissionDeniedError(
        "this coordinator does not run command jobs (they run programs on "
        "the workers); start it with --allow-commands to allow them");
  }
  // A shard's output is its result: no larger than a result may be.
  CommandPolicy policy = options_.commands;
  policy.max_output_cap_bytes =
      std::min(policy.max_output_cap_bytes, options_.max_result_bytes);
  policy.default_max_output_bytes =
      std::min(policy.default_max_output_bytes, policy.max_output_cap_bytes);
  v1::CommandSpec resolved;
  absl::StatusOr<std::unique_ptr<KernelJob>> command =
      CreateCommandJob(local.command(), policy, &resolved);
  if (!command.ok()) return command.status();
  // The spec keeps the client's paths; only the defaults are filled in.
  *resolved.mutable_inputs() = spec.command().inputs();
  resolved.set_lines(spec.command().lines());
  *spec.mutable_command() = std::move(resolved);
  return std::shared_ptr<const KernelJob>(std::move(command).value());
}

absl::StatusOr<uint64_t> JobPlanner::ShardCount(const v1::JobSpec& spec,
                                                const Domain& domain,
                                                uint64_t cluster_slots) const {
  if (IsAdaptive(spec, domain)) return 0;
  const uint64_t max = options_.max_shards_per_job;
  uint64_t shards = spec.shards();
  const bool fixed =
      shards != 0 || (domain.kind == Domain::Kind::kTasks && domain.hi > 0);
  if (shards == 0) shards = DefaultShardCount(domain, cluster_slots);
  if (shards > max && !fixed) shards = max;  // a default, not an ask
  if (shards > max) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "shards (--shards): ", shards, " exceeds the coordinator's limit of ",
        max, " shards per job (raise it with the coordinator's --max-shards)"));
  }
  if (absl::Status st = CheckShardCount(domain, shards); !st.ok()) return st;
  return shards;
}

bool JobPlanner::IsAdaptive(const v1::JobSpec& spec, const Domain& domain) {
  if (spec.shards() != 0 || domain.kind != Domain::Kind::kRange ||
      domain.hi <= domain.lo) {
    return false;
  }
  for (const std::string& arg : spec.command().argv()) {
    if (absl::StrContains(arg, "{shard}") ||
        absl::StrContains(arg, "{shards}")) {
      return false;
    }
  }
  return true;
}

absl::Duration JobPlanner::TargetShardTime(const v1::JobSpec& spec) {
  return spec.target_shard_time_ms() == 0
             ? kDefaultTargetShardTime
             : absl::Milliseconds(spec.target_shard_time_ms());
}

absl::Status JobPlanner::CheckShardCount(const Domain& domain,
                                         uint64_t shards) const {
  return ValidateShardCount(domain, shards, options_.max_shards_per_job);
}

uint64_t JobPlanner::HeldBytesEstimate(uint64_t shards, uint64_t spec_bytes) {
  uint64_t needed = 0;
  if (__builtin_mul_overflow(shards, kShardStateBytes, &needed) ||
      __builtin_add_overflow(needed, spec_bytes, &needed)) {
    return UINT64_MAX;
  }
  return needed;
}

std::string JobPlanner::Summary(const v1::JobSpec& spec) {
  // Long enough to be clipped, never the whole 256 KiB of a large spec.
  constexpr size_t kEnough = 2 * kMaxSummaryBytes;
  std::string line;
  if (spec.has_command()) {
    line = "command:";
    for (const std::string& arg : spec.command().argv()) {
      if (line.size() > kEnough) break;
      absl::StrAppend(&line, " ", arg.substr(0, kEnough));
    }
  } else {
    line = spec.kernel();
    const std::map<std::string, std::string> args(spec.args().begin(),
                                                  spec.args().end());
    for (const auto& [name, value] : args) {
      if (line.size() > kEnough) break;
      absl::StrAppend(&line, " --", name.substr(0, kEnough), " ",
                      value.substr(0, kEnough));
    }
  }
  return OneLine(std::move(line), kMaxSummaryBytes);
}

}  // namespace shardex
