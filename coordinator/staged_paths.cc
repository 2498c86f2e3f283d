#include "coordinator/staged_paths.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/blob_id.h"
#include "common/status_macros.h"
#include "common/text_checks.h"
#include "kernels/kernel.h"

namespace shardex {
namespace {

std::string Entry(const v1::StagedFile& f, int i) {
  return absl::StrCat("staged[", i, "] ('", f.path().substr(0, 200), "')");
}

absl::Status CheckUploadName(const v1::StagedFile& f, int i) {
  const std::string& name = f.upload_name();
  if (name.empty()) return absl::OkStatus();
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        Entry(f, i), ": upload_name '", name.substr(0, 200), "' ", why,
        " (it must be a relative path inside the "
        "shard's working directory)"));
  };
  if (name.find('\0') != std::string::npos) return bad("contains a NUL byte");
  if (name.front() == '/') return bad("is absolute");
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty()) return bad("has an empty component");
    if (part == "." || part == "..") return bad("has a '.' or '..' component");
  }
  return absl::OkStatus();
}

// Paths to blobs, from the staged table (checked by CheckStagedTable).
using PathToBlob = absl::flat_hash_map<std::string, std::string>;

class Localizer {
 public:
  Localizer(const StagingEnv& env, PathToBlob by_path, bool shared_fs)
      : env_(env), by_path_(std::move(by_path)), shared_fs_(shared_fs) {}

  // One input path as the coordinator reads it.
  absl::StatusOr<std::string> Path(const std::string& path) const {
    if (path.empty()) return path;
    auto it = by_path_.find(path);
    if (it != by_path_.end()) return env_.store->PathOf(it->second);
    if (!shared_fs_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", path.substr(0, 300),
          "' was not uploaded with the job: submit with the shardex CLI, "
          "which uploads it, or pass --shared-fs if every host sees it"));
    }
    if (access(path.c_str(), R_OK) != 0) {
      const int err = errno;
      return absl::InvalidArgumentError(absl::StrCat(
          "the coordinator's host (", ThisHostName(), ") cannot open '",
          path.substr(0, 300), "': ", strerror(err)));
    }
    return path;
  }

  // '\n'-separated paths (a kPositionalList value).
  absl::StatusOr<std::string> Paths(const std::string& value) const {
    std::vector<std::string> out;
    for (absl::string_view p : absl::StrSplit(value, '\n')) {
      absl::StatusOr<std::string> local = Path(std::string(p));
      if (!local.ok()) return local.status();
      out.push_back(*std::move(local));
    }
    return absl::StrJoin(out, "\n");
  }

 private:
  const StagingEnv& env_;
  const PathToBlob by_path_;
  const bool shared_fs_;
};

absl::Status LocalizeKernelArgs(const Localizer& local, uint64_t job_id,
                                const StagingEnv& env, LocalizedSpec& out) {
  v1::JobSpec& spec = out.spec;
  const KernelInfo* info = FindKernel(spec.kernel());
  if (info == nullptr) return absl::OkStatus();  // the planner reports it
  auto& args = *spec.mutable_args();
  for (const KernelParam& p : info->params) {
    auto it = args.find(p.name);
    if (!p.is_path || it == args.end()) continue;
    if (p.is_output) {
      if (out.keeps_outputs) {
        std::string kept = absl::StrCat(env.outputs->DirOf(job_id), "/",
                                        JobOutputs::ParamFileName(p.name));
        out.client_paths[kept] = it->second;
        it->second = std::move(kept);
      }
      continue;
    }
    absl::StatusOr<std::string> paths = local.Paths(it->second);
    if (!paths.ok()) return paths.status();
    if (*paths == it->second) continue;
    // The kernel reads the blobs and shows the names the user gave.
    std::string as_submitted = std::exchange(it->second, *std::move(paths));
    args[p.name + kAsSubmitted] = std::move(as_submitted);
  }
  return absl::OkStatus();
}

absl::Status LocalizeCommand(const Localizer& local, v1::CommandSpec& cmd) {
  // A malformed path is named by its field (as CreateCommandJob names it),
  // not reported as "not uploaded".
  for (int i = 0; i < cmd.inputs_size(); ++i) {
    RETURN_IF_ERROR(CheckNoNul(absl::StrCat("command.inputs[", i, "]"),
                               cmd.inputs(i)));
  }
  RETURN_IF_ERROR(CheckNoNul("command.lines", cmd.lines()));
  for (std::string& input : *cmd.mutable_inputs()) {
    absl::StatusOr<std::string> path = local.Path(input);
    if (!path.ok()) return path.status();
    input = *std::move(path);
  }
  absl::StatusOr<std::string> lines = local.Path(cmd.lines());
  if (!lines.ok()) return lines.status();
  cmd.set_lines(*std::move(lines));
  return absl::OkStatus();
}

}  // namespace

std::string ThisHostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

std::vector<std::string> StagedBlobs(const v1::JobSpec& spec) {
  std::set<std::string> blobs;
  for (const v1::StagedFile& f : spec.staged()) blobs.insert(f.sha256());
  return std::vector<std::string>(blobs.begin(), blobs.end());
}

absl::Status CheckStagedTable(const v1::JobSpec& spec) {
  PathToBlob by_path;
  std::set<std::string> names;
  for (int i = 0; i < spec.staged_size(); ++i) {
    const v1::StagedFile& f = spec.staged(i);
    if (!IsBlobId(f.sha256())) {
      return absl::InvalidArgumentError(
          absl::StrCat(Entry(f, i), ": sha256 '", f.sha256().substr(0, 80),
                       "' is not 64 lower-case hex digits"));
    }
    if (absl::Status st = CheckUploadName(f, i); !st.ok()) return st;
    if (!f.upload_name().empty() && !names.insert(f.upload_name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          Entry(f, i), ": upload_name '", f.upload_name(), "' is given twice"));
    }
    if (f.path().empty()) continue;
    auto [it, added] = by_path.emplace(f.path(), f.sha256());
    if (!added && it->second != f.sha256()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Entry(f, i), ": the path is staged twice with different contents"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LocalizedSpec> Localize(const v1::JobSpec& spec, uint64_t job_id,
                                       const StagingEnv& env) {
  LocalizedSpec out;
  out.spec = spec;
  if (env.store == nullptr) {  // no store: paths as they are
    out.shared_fs = true;
    return out;
  }
  if (absl::Status st = CheckStagedTable(spec); !st.ok()) return st;
  out.shared_fs = spec.shared_fs() || env.shared_fs;
  out.keeps_outputs = !spec.shared_fs();
  PathToBlob by_path;
  for (int i = 0; i < spec.staged_size(); ++i) {
    const v1::StagedFile& f = spec.staged(i);
    if (!env.store->IsStored(f.sha256())) {
      return absl::FailedPreconditionError(absl::StrCat(
          Entry(f, i), ": the coordinator does not hold its blob ", f.sha256(),
          " (upload interrupted, or collected): submit again with "
          "the shardex CLI, which uploads what is missing"));
    }
    if (!f.path().empty()) by_path.emplace(f.path(), f.sha256());
  }
  out.blobs = StagedBlobs(spec);
  const Localizer local(env, std::move(by_path), out.shared_fs);
  absl::Status st = spec.has_command()
                        ? LocalizeCommand(local, *out.spec.mutable_command())
                        : LocalizeKernelArgs(local, job_id, env, out);
  if (!st.ok()) return st;
  if (out.keeps_outputs && !spec.output_dir().empty()) {
    out.spec.set_output_dir(env.outputs->DirOf(job_id));
  }
  return out;
}

}  // namespace shardex
