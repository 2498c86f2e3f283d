#include "common/stdin_feeder.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace shardex {

using absl::StrCat;

namespace {

constexpr size_t kChunk = 64 << 10;  // one read of the file, one write

}  // namespace

absl::Status StdinFeeder::FeedFileSlice(const std::string& path,
                                        uint64_t offset,
                                        std::optional<uint64_t> length) {
  path_ = path;
  file_ = UniqueFd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!file_.valid() || fstat(file_.get(), &st) != 0) {
    return absl::InternalError(
        StrCat("cannot open stdin file ", path_, ": ", strerror(errno)));
  }
  // A slice past the end means the file is not the one the split was made
  // from; feeding less than asked would quietly produce a wrong result.
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || (length.has_value() && *length > size - offset)) {
    return absl::InvalidArgumentError(StrCat(
        "stdin slice at offset ", offset, " of length ",
        length.value_or(std::numeric_limits<uint64_t>::max()),
        " is past the end of ", path_, " (", size, " bytes)"));
  }
  next_offset_ = offset;
  remaining_ = length.value_or(size - offset);
  return absl::OkStatus();
}

bool StdinFeeder::Refill() {
  if (!file_.valid() || remaining_ == 0) return false;
  buffer_.resize(std::min<uint64_t>(kChunk, remaining_));
  ssize_t n;
  do {
    n = pread(file_.get(), buffer_.data(), buffer_.size(), next_offset_);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    error_ = absl::InternalError(
        StrCat("reading stdin file ", path_, " at offset ", next_offset_, ": ",
               n == 0 ? "unexpected end of file" : strerror(errno)));
    return false;
  }
  next_offset_ += n;
  remaining_ -= n;
  pending_ = absl::string_view(buffer_.data(), n);
  return true;
}

StdinFeeder::State StdinFeeder::Pump(int pipe_fd) {
  while (true) {
    if (pending_.empty() && !Refill()) {
      return error_.ok() ? State::kDone : State::kFailed;
    }
    const ssize_t n =
        write(pipe_fd, pending_.data(), std::min(pending_.size(), kChunk));
    if (n > 0) {
      pending_.remove_prefix(n);
    } else if (errno == EAGAIN) {
      return State::kMore;
    } else if (errno != EINTR) {
      return State::kDone;  // EPIPE: the child will not read more
    }
  }
}

}  // namespace shardex
