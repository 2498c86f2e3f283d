#include "cli/staging_plan.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "kernels/kernel.h"

namespace shardex {

namespace {

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "this host";
  return buf;
}

// `st` with `hint` appended to its message, same code.
absl::Status WithHint(const absl::Status& st, absl::string_view hint) {
  return absl::Status(st.code(), absl::StrCat(st.message(), hint));
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

std::string Basename(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool Under(const std::string& path, const std::string& root) {
  return path == root ||
         (path.size() > root.size() &&
          path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}

// Hashes the regular file at `path` (stat'ed as `st`) into a StagedFile.
absl::StatusOr<v1::StagedFile> Describe(const std::string& path,
                                        const struct stat& st,
                                        const std::string& upload_name) {
  absl::StatusOr<std::string> sha = Sha256OfFile(path);
  if (!sha.ok()) return sha.status();
  v1::StagedFile f;
  f.set_path(path);
  f.set_sha256(*sha);
  f.set_size(static_cast<uint64_t>(st.st_size));
  f.set_mode(st.st_mode & 07777);
  f.set_upload_name(upload_name);
  return f;
}

absl::Status StageInput(const std::string& path, v1::JobSpec* spec) {
  const std::string hint =
      " (input files are read on the submitting host and uploaded; pass "
      "--shared-fs if every host sees the same files)";
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return WithHint(ErrnoError(absl::StrCat("the submitting host (", HostName(),
                                            ") cannot read"),
                               path),
                    hint);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", path,
                     " is not a regular file; name files, not "
                     "directories or devices"));
  }
  absl::StatusOr<v1::StagedFile> f = Describe(path, st, "");
  if (!f.ok()) {
    return WithHint(
        absl::Status(f.status().code(),
                     absl::StrCat("the submitting host (", HostName(), ") ",
                                  f.status().message())),
        hint);
  }
  *spec->add_staged() = *std::move(f);
  return absl::OkStatus();
}

std::string WithoutTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Walks one --upload argument.
class UploadWalker {
 public:
  UploadWalker(std::string given, v1::JobSpec* spec)
      : given_(WithoutTrailingSlashes(std::move(given))), spec_(spec) {}

  absl::Status Walk() {
    root_ = RealPath(given_);
    if (root_.empty()) {
      return ErrnoError("--upload: the submitting host cannot read", given_);
    }
    std::string name = Basename(given_);
    if (name == "." || name == ".." || name.empty()) name = Basename(root_);
    if (root_ == "/" || name == "/" || name.empty()) {
      return absl::InvalidArgumentError(
          "--upload /: name a directory or file below /");
    }
    struct stat st;
    if (stat(root_.c_str(), &st) != 0) return ErrnoError("--upload", given_);
    if (S_ISREG(st.st_mode)) return Add(given_, st, name);
    if (!S_ISDIR(st.st_mode)) return Special(given_);
    return WalkDir(given_, name, st);
  }

 private:
  absl::Status Special(const std::string& path) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--upload ", given_, ": ", path,
        " is not a regular file, directory or symlink to one (sockets, "
        "FIFOs and devices cannot be uploaded)"));
  }

  absl::Status Add(const std::string& path, const struct stat& st,
                   const std::string& name) {
    absl::StatusOr<v1::StagedFile> f = Describe(path, st, name);
    if (!f.ok()) return f.status();
    *spec_->add_staged() = *std::move(f);
    return absl::OkStatus();
  }

  absl::Status WalkDir(const std::string& dir, const std::string& name,
                       const struct stat& dir_st) {
    const auto key = std::make_pair(dir_st.st_dev, dir_st.st_ino);
    if (!on_path_.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--upload ", given_, ": ", dir,
                       " leads back to a directory above it (a symlink loop)"));
    }
    std::vector<std::string> entries;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoError("--upload: cannot read directory", dir);
    while (struct dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") entries.push_back(n);
    }
    closedir(d);
    std::sort(entries.begin(), entries.end());
    for (const std::string& entry : entries) {
      absl::Status st = Entry(dir + "/" + entry, name + "/" + entry);
      if (!st.ok()) return st;
    }
    on_path_.erase(key);
    return absl::OkStatus();
  }

  absl::Status Entry(const std::string& path, const std::string& name) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return ErrnoError("--upload", path);
    if (S_ISLNK(st.st_mode)) {
      const std::string target = RealPath(path);
      if (target.empty() || !Under(target, root_)) {
        char link[PATH_MAX] = {0};
        const ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
        const std::string shown = n > 0 ? std::string(link, n) : target;
        return absl::InvalidArgumentError(absl::StrCat(
            "--upload ", given_, ": symlink ", path, " points to ", shown,
            target.empty() ? ", which does not exist"
                           : absl::StrCat(" (", target, "), outside ", root_),
            "; copy the file into the directory or upload it on its own"));
      }
      if (stat(path.c_str(), &st) != 0) return ErrnoError("--upload", path);
    }
    if (S_ISREG(st.st_mode)) return Add(path, st, name);
    if (S_ISDIR(st.st_mode)) return WalkDir(path, name, st);
    return Special(path);
  }

  const std::string given_;
  v1::JobSpec* const spec_;
  std::string root_;                           // real path of given_
  std::set<std::pair<dev_t, ino_t>> on_path_;  // directories being walked
};

// INVALID_ARGUMENT when two files would have the same upload name, or a
// name is absolute or has "..".
absl::Status CheckUploadNames(const v1::JobSpec& spec) {
  std::set<std::string> names;
  for (const v1::StagedFile& f : spec.staged()) {
    if (f.upload_name().empty()) continue;
    for (absl::string_view part : absl::StrSplit(f.upload_name(), '/')) {
      if (part.empty() || part == "." || part == "..") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--upload: ", f.path(), " would be named '", f.upload_name(),
            "', which is not a plain relative path"));
      }
    }
    if (!names.insert(f.upload_name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--upload: two files would both be named '", f.upload_name(),
          "' in the shard's working directory (the second is ", f.path(),
          "); rename one or upload their directories instead"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> InputPaths(const v1::JobSpec& spec) {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (!p.empty() && seen.insert(p).second) paths.push_back(p);
  };
  if (const KernelInfo* k = FindKernel(spec.kernel()); k != nullptr) {
    for (const KernelParam& p : k->params) {
      if (!p.is_path || p.is_output) continue;
      auto it = spec.args().find(p.name);
      if (it == spec.args().end()) continue;
      for (absl::string_view v : absl::StrSplit(it->second, '\n')) {
        add(std::string(v));
      }
    }
  }
  for (const std::string& in : spec.command().inputs()) add(in);
  add(spec.command().lines());
  return paths;
}

std::map<std::string, std::string> OutputParams(const v1::JobSpec& spec) {
  std::map<std::string, std::string> out;
  const KernelInfo* k = FindKernel(spec.kernel());
  if (k == nullptr) return out;
  for (const KernelParam& p : k->params) {
    if (!p.is_path || !p.is_output) continue;
    auto it = spec.args().find(p.name);
    if (it != spec.args().end() && !it->second.empty()) {
      out[p.name] = it->second;
    }
  }
  return out;
}

absl::Status PlanStaging(const std::vector<std::string>& uploads,
                         v1::JobSpec* spec) {
  if (!uploads.empty() && !spec->has_command()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--upload applies to command jobs only (a program after --), not to "
        "kernel ",
        spec->kernel()));
  }
  spec->clear_staged();
  for (const std::string& path : InputPaths(*spec)) {
    if (absl::Status st = StageInput(path, spec); !st.ok()) return st;
  }
  for (const std::string& given : uploads) {
    if (absl::Status st = UploadWalker(given, spec).Walk(); !st.ok()) return st;
  }
  return CheckUploadNames(*spec);
}

}  // namespace shardex
