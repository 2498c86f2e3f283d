#include "coordinator/job_outputs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace shardex {
namespace {

bool AllOf(const std::string& s, size_t from, bool (*ok)(char)) {
  if (s.size() <= from) return false;
  return std::all_of(s.begin() + from, s.end(), ok);
}

bool IsDigit(char c) {
  return absl::ascii_isdigit(static_cast<unsigned char>(c));
}
bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

}  // namespace

std::string JobOutputs::DirOf(uint64_t job_id) const {
  return absl::StrCat(root_, "/", job_id);
}

std::string JobOutputs::ParamFileName(const std::string& param) {
  return absl::StrCat("param-", param);
}

// NNNNN (a shard's number) or NNNN-NNNN (an adaptive shard's range).
static bool IsPartSuffix(const std::string& s) {
  const size_t dash = s.find('-');
  if (dash == std::string::npos) return !s.empty() && AllOf(s, 0, IsDigit);
  return dash > 0 && dash + 1 < s.size() &&
         AllOf(s.substr(0, dash), 0, IsDigit) && AllOf(s, dash + 1, IsDigit);
}

absl::Status JobOutputs::CheckName(const std::string& name) {
  if (name == "result" || name == "_SUCCESS") return absl::OkStatus();
  if (absl::StartsWith(name, "part-") && IsPartSuffix(name.substr(5))) {
    return absl::OkStatus();
  }
  if (absl::StartsWith(name, "param-") && AllOf(name, 6, IsNameChar)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", name.substr(0, 100),
                   "' is not an output name (part-NNNNN, part-BEGIN-END, result, "
                   "_SUCCESS or param-NAME; no '/' or '..')"));
}

absl::StatusOr<std::vector<OutputFileInfo>> JobOutputs::List(
    uint64_t job_id) const {
  std::vector<OutputFileInfo> files;
  const std::string dir = DirOf(job_id);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "the coordinator keeps no outputs for job ", job_id,
          " (it wrote none: no --output and no output file, or it was "
          "submitted with --shared-fs; or it was forgotten)"));
    }
    return ErrnoError("cannot list", dir);
  }
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (!CheckName(name).ok()) continue;  // temporary files among them
    struct stat st;
    const std::string path = absl::StrCat(dir, "/", name);
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files.push_back({name, static_cast<uint64_t>(st.st_size)});
  }
  closedir(d);
  std::sort(files.begin(), files.end(),
            [](const OutputFileInfo& a, const OutputFileInfo& b) {
              return a.name < b.name;
            });
  return files;
}

absl::StatusOr<UniqueFd> JobOutputs::Open(uint64_t job_id,
                                          const std::string& name) const {
  if (absl::Status st = CheckName(name); !st.ok()) return st;
  const std::string path = absl::StrCat(DirOf(job_id), "/", name);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("job ", job_id, " has no output '", name,
                       "' (not written yet, or the job was forgotten)"));
    }
    return ErrnoError("cannot open", path);
  }
  return fd;
}

absl::Status JobOutputs::Remove(uint64_t job_id) const {
  return RemoveTree(DirOf(job_id));
}

void JobOutputs::RemoveAllExcept(const std::set<uint64_t>& kept) const {
  DIR* d = opendir(root_.c_str());
  if (d == nullptr) return;
  std::vector<uint64_t> stale;
  while (dirent* e = readdir(d)) {
    uint64_t id = 0;
    if (absl::SimpleAtoi(e->d_name, &id) && kept.count(id) == 0) {
      stale.push_back(id);
    }
  }
  closedir(d);
  for (uint64_t id : stale) (void)Remove(id);
}

}  // namespace shardex
