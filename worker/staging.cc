#include "worker/staging.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "glog/logging.h"
#include "kernels/kernel.h"

namespace shardex {

namespace {

// The kernel's input-path parameters (is_path and read, not written).
std::vector<std::string> InputParams(const std::string& kernel) {
  std::vector<std::string> names;
  const KernelInfo* info = FindKernel(kernel);
  if (info == nullptr) return names;  // CreateShardRunner says NOT_FOUND
  for (const KernelParam& p : info->params) {
    if (p.is_path && !p.is_output) names.push_back(p.name);
  }
  return names;
}

BlobRef RefOf(const v1::StagedFile& f) { return {f.sha256(), f.size()}; }

}  // namespace

std::vector<FileRange> ShardFileRanges(const std::vector<uint64_t>& sizes,
                                       uint64_t begin, uint64_t end) {
  std::vector<FileRange> ranges;
  uint64_t offset = 0;
  for (size_t i = 0; i < sizes.size(); offset += sizes[i], ++i) {
    const uint64_t file_end = offset + sizes[i];
    if (sizes[i] == 0 || file_end <= begin || offset >= end) continue;
    ranges.push_back({i, std::max(begin, offset) - offset,
                      std::min(end, file_end) - offset});
  }
  return ranges;
}

JobStager::JobStager(Options options, BlobCache* cache,
                     absl::Status cache_error)
    : options_(std::move(options)),
      cache_(cache),
      cache_error_(std::move(cache_error)) {
  // Left by an earlier run of this worker (the cache's lock makes the
  // directory ours alone).
  if (absl::Status st = RemoveTree(options_.jobs_dir); !st.ok()) {
    LOG(WARNING) << "cleaning " << options_.jobs_dir << ": " << st.message();
  }
}

std::string JobStager::JobDir(uint64_t job_id) const {
  return absl::StrCat(options_.jobs_dir, "/", job_id);
}

absl::StatusOr<std::shared_ptr<const StagedJob>> JobStager::Prepare(
    const v1::JobDefinition& def) {
  auto job = std::make_shared<StagedJob>();
  job->job_id = def.job_id();
  job->local = def;
  if (def.shared_fs() || def.staged().empty()) {
    if (def.shared_fs() && !def.has_command()) {
      std::vector<std::string> paths;
      for (const std::string& name : InputParams(def.kernel())) {
        auto it = def.args().find(name);
        if (it == def.args().end()) continue;
        for (absl::string_view p : absl::StrSplit(it->second, '\n')) {
          if (!p.empty()) paths.emplace_back(p);
        }
      }
      RETURN_IF_ERROR(CheckOpenable(paths));
    }
    return job;
  }
  if (cache_ == nullptr) {
    return absl::Status(cache_error_.code(),
                        absl::StrCat("this worker has no blob cache for the "
                                     "job's staged files: ",
                                     cache_error_.message()));
  }
  job->staged = true;
  {
    absl::MutexLock lock(&mu_);
    jobs_.try_emplace(def.job_id(), std::make_shared<JobFiles>());
  }
  RETURN_IF_ERROR(Localize(def, job.get()));
  return job;
}

absl::Status JobStager::Localize(const v1::JobDefinition& def, StagedJob* job) {
  absl::flat_hash_map<std::string, const v1::StagedFile*> by_path;
  for (const v1::StagedFile& f : def.staged()) {
    if (!f.upload_name().empty()) {
      RETURN_IF_ERROR(CheckUploadName(f.upload_name()));
      RETURN_IF_ERROR(cache_->Add(def.job_id(), RefOf(f)).status());
      job->uploads.push_back({RefOf(f), f.upload_name(), f.mode()});
    } else {
      by_path.emplace(f.path(), &f);
    }
  }
  // The cache's data file for an input path, and its blob.
  auto local = [&](const std::string& path,
                   BlobRef* ref) -> absl::StatusOr<std::string> {
    auto it = by_path.find(path);
    if (it == by_path.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "input '", path, "' is not among the job's staged files"));
    }
    *ref = RefOf(*it->second);
    return cache_->Add(def.job_id(), *ref);
  };
  BlobRef ref;
  auto& args = *job->local.mutable_args();
  for (const std::string& name : InputParams(def.kernel())) {
    auto it = args.find(name);
    if (it == args.end()) continue;
    std::vector<std::string> paths = absl::StrSplit(it->second, '\n');
    for (std::string& path : paths) {
      if (path.empty()) continue;
      ASSIGN_OR_RETURN(path, local(path, &ref));
      job->kernel_files.push_back(ref);
    }
    it->second = absl::StrJoin(paths, "\n");
  }
  v1::CommandSpec* command = job->local.mutable_command();
  for (std::string& input : *command->mutable_inputs()) {
    ASSIGN_OR_RETURN(input, local(input, &ref));
    job->inputs.push_back(ref);
  }
  if (!command->lines().empty()) {
    ASSIGN_OR_RETURN(*command->mutable_lines(), local(command->lines(), &ref));
    job->lines = ref;
  }
  if (!def.has_command()) job->local.clear_command();
  return absl::OkStatus();
}

absl::Status JobStager::CheckOpenable(
    const std::vector<std::string>& paths) const {
  for (const std::string& path : paths) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid()) continue;
    return absl::FailedPreconditionError(
        absl::StrCat("worker host ", options_.host, " cannot open '", path,
                     "': ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status JobStager::BeforeShard(const StagedJob& job,
                                    const v1::ShardTask& task,
                                    const std::atomic<bool>& cancel,
                                    std::vector<ProcessSpec::Link>* links) {
  const v1::CommandSpec& command = job.local.command();
  if (!job.staged) {
    if (!job.local.shared_fs() || !job.local.has_command()) {
      return absl::OkStatus();
    }
    std::vector<std::string> paths;
    if (task.ref().shard() < static_cast<uint64_t>(command.inputs_size())) {
      paths.push_back(command.inputs(task.ref().shard()));
    }
    if (!command.lines().empty()) paths.push_back(command.lines());
    return CheckOpenable(paths);
  }
  if (absl::Status st = EnsureShardInput(job, task, cancel); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("fetching the shard's input from the "
                                     "coordinator: ",
                                     st.message()));
  }
  if (job.uploads.empty() || !job.local.has_command()) {
    return absl::OkStatus();
  }
  if (absl::Status st = EnsureUploads(job, cancel); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat("staging the job's --upload "
                                                "files: ",
                                                st.message()));
  }
  for (ProcessSpec::Link& link :
       TopLevelLinks(job.uploads, JobDir(job.job_id) + "/upload")) {
    links->push_back(std::move(link));
  }
  return absl::OkStatus();
}

absl::Status JobStager::EnsureShardInput(const StagedJob& job,
                                         const v1::ShardTask& task,
                                         const std::atomic<bool>& cancel) {
  if (!job.kernel_files.empty()) {
    std::vector<uint64_t> sizes;
    for (const BlobRef& f : job.kernel_files) sizes.push_back(f.size);
    for (const FileRange& r :
         ShardFileRanges(sizes, task.begin(), task.end())) {
      RETURN_IF_ERROR(cache_->EnsureLineRange(job.kernel_files[r.index],
                                              r.begin, r.end, &cancel));
    }
  }
  if (job.lines.has_value()) {
    RETURN_IF_ERROR(
        cache_->EnsureLineRange(*job.lines, task.begin(), task.end(), &cancel));
  }
  const uint64_t shard = task.ref().shard();
  if (shard < job.inputs.size()) {
    RETURN_IF_ERROR(cache_->EnsureWhole(job.inputs[shard], &cancel));
  }
  return absl::OkStatus();
}

absl::Status JobStager::EnsureUploads(const StagedJob& job,
                                      const std::atomic<bool>& cancel) {
  std::shared_ptr<JobFiles> files;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job.job_id);
    if (it == jobs_.end()) return absl::CancelledError("the job has ended");
    files = it->second;
  }
  absl::MutexLock job_lock(&files->mu);
  {
    absl::MutexLock lock(&mu_);
    if (files->forgotten) return absl::CancelledError("the job has ended");
    if (files->materialized) return absl::OkStatus();
    files->busy = true;
  }
  absl::Status st = MaterializeUploads(
      job.uploads, JobDir(job.job_id) + "/upload", cache_, cancel);
  bool remove;
  {
    absl::MutexLock lock(&mu_);
    files->busy = false;
    files->materialized = st.ok();
    remove = files->forgotten;  // Forget came meanwhile and left it to us
  }
  if (remove) RemoveTree(JobDir(job.job_id)).IgnoreError();
  return st;
}

void JobStager::Forget(uint64_t job_id) {
  bool staged = false;
  bool remove = true;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    if (it != jobs_.end()) {
      staged = true;
      it->second->forgotten = true;
      remove = !it->second->busy;
      jobs_.erase(it);
    }
  }
  if (!staged) return;
  if (remove) {
    if (absl::Status st = RemoveTree(JobDir(job_id)); !st.ok()) {
      LOG(WARNING) << "removing job " << job_id << "'s files: " << st.message();
    }
  }
  if (cache_ == nullptr) return;
  cache_->UnpinJob(job_id);
  const BlobCache::Stats s = cache_->stats();
  LOG(INFO) << "job " << job_id << " ended; blob cache: " << s.bytes_fetched
            << " bytes fetched, " << s.blocks_from_cache
            << " blocks served from cache, " << s.bytes_present
            << " bytes present, " << s.blobs_evicted << " blobs evicted";
}

}  // namespace shardex
