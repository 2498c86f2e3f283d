#include "common/file_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shardex {

namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
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

absl::Status PrepareOutputDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("--output: empty path");
  // mkdir -p
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("--output: cannot create", prefix);
    }
  }
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

std::string PartFileName(uint64_t shard) {
  return absl::StrFormat("part-%05d", shard);
}

}  // namespace shardex
