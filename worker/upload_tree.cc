#include "worker/upload_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace shardex {

namespace {

constexpr size_t kCopyChunk = size_t{1} << 20;

absl::Status CopyFile(const std::string& from, const std::string& to) {
  UniqueFd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoError("opening", from);
  UniqueFd out(open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoError("creating", to);
  std::string buf(kCopyChunk, '\0');
  while (true) {
    const ssize_t n = read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("reading", from);
    if (n == 0) return absl::OkStatus();
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = write(out.get(), buf.data() + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return ErrnoError("writing", to);
      done += w;
    }
  }
}

std::string Parent(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}

absl::Status Materialize(const std::vector<UploadFile>& files,
                         const std::string& root, BlobCache* cache,
                         const std::atomic<bool>& cancel) {
  std::set<std::string, std::greater<std::string>> dirs = {root};
  RETURN_IF_ERROR(MakeDirs(root, 0755, "upload tree"));
  for (const UploadFile& f : files) {
    RETURN_IF_ERROR(CheckUploadName(f.name));
    RETURN_IF_ERROR(cache->EnsureWhole(f.blob, &cancel));
    const std::string dest = absl::StrCat(root, "/", f.name);
    for (std::string d = Parent(dest); d.size() > root.size(); d = Parent(d)) {
      dirs.insert(d);
    }
    RETURN_IF_ERROR(MakeDirs(Parent(dest), 0755, "upload tree"));
    RETURN_IF_ERROR(CopyFile(cache->DataPath(f.blob.sha256), dest));
    if (chmod(dest.c_str(), f.mode & 0555) != 0) {
      return ErrnoError("chmod", dest);
    }
  }
  // Deepest first (reverse order), so a parent is closed after its children.
  for (const std::string& d : dirs) {
    if (chmod(d.c_str(), 0555) != 0) return ErrnoError("chmod", d);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckUploadName(const std::string& name) {
  bool ok = !name.empty() && name[0] != '/';
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") ok = false;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("bad upload name '", name,
                   "': must be relative, without '.' or '..' parts"));
}

absl::Status MaterializeUploads(const std::vector<UploadFile>& files,
                                const std::string& root, BlobCache* cache,
                                const std::atomic<bool>& cancel) {
  absl::Status st = Materialize(files, root, cache, cancel);
  if (!st.ok()) RemoveTree(root).IgnoreError();
  return st;
}

std::vector<ProcessSpec::Link> TopLevelLinks(
    const std::vector<UploadFile>& files, const std::string& root) {
  std::set<std::string> names;
  for (const UploadFile& f : files)
    names.insert(f.name.substr(0, f.name.find('/')));
  std::vector<ProcessSpec::Link> links;
  for (const std::string& n : names) {
    links.push_back({n, absl::StrCat(root, "/", n)});
  }
  return links;
}

}  // namespace shardex
