#include "common/file_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <vector>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace shardex {

namespace {


// Directories nested deeper than this are not removed (a guard against a
// runaway tree, not a real limit).
constexpr int kMaxRemoveDepth = 256;

void NoteFailure(absl::string_view what, const std::string& path, int err,
                 std::string* error) {
  if (error->empty()) {
    *error = absl::StrCat("cannot ", what, " ", path, ": ", strerror(err));
  }
}

void RemoveTree(int parent_fd, const std::string& name,
                const std::string& path, int depth, std::string* error);

// Removes everything inside the directory `name`.
void RemoveDirContents(int parent_fd, const std::string& name,
                       const std::string& path, mode_t mode, int depth,
                       std::string* error) {
  // The child may have left the directory read-only or unsearchable; as its
  // owner we may give ourselves access back, which listing and unlinking
  // need. A failure here shows up as a failure below.
  if ((mode & S_IRWXU) != S_IRWXU) {
    fchmodat(parent_fd, name.c_str(), (mode & 07777) | S_IRWXU, 0);
  }
  const int fd = openat(parent_fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return NoteFailure("open", path, errno, error);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    NoteFailure("list", path, errno, error);
    close(fd);
    return;
  }
  // All names first: POSIX leaves readdir() unspecified while the
  // directory changes under it.
  std::vector<std::string> names;
  while (const struct dirent* entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
      continue;
    }
    names.emplace_back(entry->d_name);
  }
  for (const std::string& child : names) {
    RemoveTree(dirfd(dir), child, absl::StrCat(path, "/", child), depth + 1, error);
  }
  closedir(dir);
}

// Removes `name` (relative to `parent_fd`) and everything below it. Never
// follows a symlink: a child's link to elsewhere loses only the link. Keeps
// going past failures and records the first in *error.
void RemoveTree(int parent_fd, const std::string& name,
                const std::string& path, int depth, std::string* error) {
  struct stat st;
  if (fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) NoteFailure("stat", path, errno, error);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    if (depth >= kMaxRemoveDepth) {
      if (error->empty()) {
        *error = absl::StrCat("cannot remove ", path, ": more than ",
                        kMaxRemoveDepth, " directories deep");
      }
      return;
    }
    RemoveDirContents(parent_fd, name, path, st.st_mode, depth, error);
  }
  const int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
  if (unlinkat(parent_fd, name.c_str(), flags) != 0 && errno != ENOENT) {
    NoteFailure("remove", path, errno, error);
  }
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      absl::StrCat(path, ".tmp-", getpid(), "-", counter++);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status st = ErrnoError("cannot write", tmp);
      close(fd);
      unlink(tmp.c_str());
      return st;
    }
    done += n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    absl::Status st = ErrnoError("cannot flush", tmp);
    unlink(tmp.c_str());
    return st;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = ErrnoError("cannot rename to", path);
    unlink(tmp.c_str());
    return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status MakeDirs(const std::string& dir, mode_t mode,
                      absl::string_view what) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoError(absl::StrCat(what, ": cannot create"), prefix);
    }
  }
  return absl::OkStatus();
}

std::string TempDir() {
  const char* tmp = getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

absl::StatusOr<std::string> MakeWorkDir(const std::string& scratch_root) {
  std::string root = scratch_root.empty() ? TempDir() : scratch_root;
  if (root[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::InternalError(absl::StrCat("getcwd: ", strerror(errno)));
    }
    root = absl::StrCat(cwd, "/", root);
  }
  std::string dir = absl::StrCat(root, "/shard-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a work dir under ",
                                            root, ": ", strerror(errno)));
  }
  return dir;
}

absl::Status PrepareOutputDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("--output: empty path");
  if (absl::Status st = MakeDirs(dir, 0755, "--output"); !st.ok()) return st;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoError("--output: cannot open", dir);
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  if (!empty) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--output ", dir, " is not empty; choose a new directory"));
  }
  return absl::OkStatus();
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::Status RemoveTree(const std::string& path) {
  std::string error;
  RemoveTree(AT_FDCWD, path, path, 0, &error);
  if (error.empty()) return absl::OkStatus();
  return absl::InternalError(error);
}

std::string PartFileName(uint64_t shard) {
  return absl::StrFormat("part-%05d", shard);
}

std::string RangePartFileName(uint64_t begin, uint64_t end,
                              uint64_t domain_end) {
  const int width = static_cast<int>(absl::StrCat(domain_end).size());
  return absl::StrFormat("part-%0*d-%0*d", width, begin, width, end);
}

}  // namespace shardex
