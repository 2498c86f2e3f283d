#include "coordinator/blob_file_io.h"

#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"

namespace shardex {
namespace blob_io {

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAt(int fd, uint64_t offset, size_t len,
                                   const std::string& path) {
  std::string buf(len, '\0');
  size_t done = 0;
  while (done < len) {
    const ssize_t n = pread(fd, buf.data() + done, len - done,
                            static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  buf.resize(done);
  return buf;
}

}  // namespace blob_io
}  // namespace shardex
