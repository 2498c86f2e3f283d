#include "common/key_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace shardex {

absl::Status WriteFileWithMode(const std::string& path, absl::string_view data,
                               mode_t mode) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = absl::StrCat(path, ".tmp-", getpid(), "-", counter++);
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  absl::Status st;
  // fchmod: the umask may have taken bits away; put back exactly `mode`.
  if (fchmod(fd, mode) != 0) st = ErrnoError("cannot chmod", tmp);
  for (size_t done = 0; st.ok() && done < data.size();) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = ErrnoError("cannot write", tmp);
    } else {
      done += n;
    }
  }
  if (st.ok() && fsync(fd) != 0) st = ErrnoError("cannot flush", tmp);
  if (close(fd) != 0 && st.ok()) st = ErrnoError("cannot close", tmp);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    st = ErrnoError("cannot rename to", path);
  }
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

absl::Status WriteKeyFile(const std::string& path, absl::string_view data) {
  return WriteFileWithMode(path, data, 0600);
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError("cannot read", path);
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("private key ", path,
                     " is accessible to other users; run: chmod 600 ", path));
  }
  return ReadFile(path);
}

}  // namespace shardex
