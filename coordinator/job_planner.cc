#include "coordinator/job_planner.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "command/command_job.h"
#include "common/file_util.h"
#include "common/text_checks.h"
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

JobPlanner::JobPlanner(const SchedulerOptions& options) : options_(options) {}

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
  return bytes;
}

absl::StatusOr<std::shared_ptr<const KernelJob>> JobPlanner::Plan(
    v1::JobSpec& spec, bool resuming) {
  if (!spec.output_dir().empty() && !resuming) {
    if (absl::Status st = PrepareOutputDir(spec.output_dir()); !st.ok()) {
      return st;
    }
  }
  return spec.has_command() ? PlanCommand(spec) : PlanKernel(spec);
}

absl::StatusOr<std::shared_ptr<const KernelJob>> JobPlanner::PlanKernel(
    v1::JobSpec& spec) {
  const KernelInfo* info = FindKernel(spec.kernel());
  if (info == nullptr) {
    // CreateKernelJob words NOT_FOUND with the list of known kernels.
    return CreateKernelJob(spec.kernel(), KernelArgs()).status();
  }
  for (const KernelParam& p : info->params) {
    if (p.random_if_absent && spec.args().count(p.name) == 0) {
      absl::MutexLock lock(&rng_mu_);
      (*spec.mutable_args())[p.name] =
          absl::StrCat(absl::Uniform<uint64_t>(rng_));
    }
  }
  const KernelArgs args(spec.args().begin(), spec.args().end());
  absl::StatusOr<std::unique_ptr<KernelJob>> job = info->create(args);
  if (!job.ok()) return job.status();
  if (*job == nullptr) {
    return absl::InternalError(
        absl::StrCat("kernel '", spec.kernel(), "' created a null job"));
  }
  return std::shared_ptr<const KernelJob>(std::move(job).value());
}

absl::StatusOr<std::shared_ptr<const KernelJob>> JobPlanner::PlanCommand(
    v1::JobSpec& spec) const {
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
      CreateCommandJob(spec.command(), policy, &resolved);
  if (!command.ok()) return command.status();
  *spec.mutable_command() = std::move(resolved);
  return std::shared_ptr<const KernelJob>(std::move(command).value());
}

absl::StatusOr<uint64_t> JobPlanner::ShardCount(const v1::JobSpec& spec,
                                                const Domain& domain,
                                                uint64_t cluster_slots) const {
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
