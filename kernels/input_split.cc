#include "kernels/input_split.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace shardex {
namespace {

// Bytes read per pread while looking for the '\n' that ends a line at a
// shard boundary: lines are usually short, so this stays small.
constexpr size_t kScanBytes = size_t{64} << 10;

// An open file descriptor, closed on destruction.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&&) = delete;
  ScopedFd(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A regular file opened for reading, with its size at open time.
struct OpenedFile {
  ScopedFd fd;
  std::string path;
  uint64_t size = 0;
};

absl::Status OpenError(int error, const std::string& path) {
  const std::string message =
      absl::StrCat("cannot open '", path, "': ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::ErrnoToStatus(error, message);
  }
}

absl::StatusOr<OpenedFile> OpenRegularFile(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty file name");
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return OpenError(errno, path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat '", path, "'"));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is a directory, not a file"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is not a regular file (its size cannot be split)"));
  }
  return OpenedFile{std::move(fd), path, static_cast<uint64_t>(st.st_size)};
}

// Opens an input file for a shard and checks it still has the size the job
// was split by.
absl::StatusOr<OpenedFile> OpenInputFile(const InputFile& file) {
  ASSIGN_OR_RETURN(OpenedFile opened, OpenRegularFile(file.path));
  if (opened.size != file.size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", file.name, "' changed size since the job was created (was ",
        file.size, " bytes, now ", opened.size, ")"));
  }
  opened.path = file.name;  // errors name the file as the user named it
  return opened;
}

// Reads exactly `len` bytes at `offset` into `buf`.
absl::Status ReadAt(const OpenedFile& file, uint64_t offset, size_t len,
                    char* buf) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = pread(file.fd.get(), buf + done, len - done,
                            static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("cannot read '", file.path, "'"));
    }
    if (n == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("'", file.path, "' shrank while being read (expected ",
                       file.size, " bytes, ended at ", offset + done, ")"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status Cancelled() {
  return absl::CancelledError("input shard cancelled");
}

// The first line start at or after `pos`: `pos` itself at the file's start
// or right after a '\n', else just after the next '\n', else the file size.
absl::StatusOr<uint64_t> NextLineStart(const OpenedFile& file, uint64_t pos,
                                       const CancelFlag& cancel) {
  if (pos == 0 || pos >= file.size) return std::min(pos, file.size);
  std::string buf(kScanBytes, '\0');
  for (uint64_t at = pos - 1; at < file.size;) {
    if (cancel.load()) return Cancelled();
    const size_t len =
        static_cast<size_t>(std::min<uint64_t>(kScanBytes, file.size - at));
    RETURN_IF_ERROR(ReadAt(file, at, len, buf.data()));
    const void* nl = std::memchr(buf.data(), '\n', len);
    if (nl != nullptr) {
      return at + (static_cast<const char*>(nl) - buf.data()) + 1;
    }
    at += len;
  }
  return file.size;
}

// The lines of `file` (file-local [0, size)) that start in local
// [begin, limit): their bytes, or nullopt if none starts there.
absl::StatusOr<std::optional<ShardRange>> OwnedBytes(const OpenedFile& file,
                                                     uint64_t begin,
                                                     uint64_t limit,
                                                     const CancelFlag& cancel) {
  if (begin >= limit) return std::nullopt;
  ASSIGN_OR_RETURN(const uint64_t start, NextLineStart(file, begin, cancel));
  if (start >= limit) return std::nullopt;
  ASSIGN_OR_RETURN(const uint64_t end, NextLineStart(file, limit, cancel));
  return ShardRange{start, end};
}

absl::Status CheckRange(const InputFiles& files, ShardRange range) {
  if (range.begin <= range.end && range.end <= files.total_bytes()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "shard [", range.begin, ", ", range.end, ") is not within the input's ",
      files.total_bytes(), " bytes"));
}

// Calls `fn` for each file holding bytes of `range`, with that file opened
// and the part of `range` inside it in file-local offsets.
template <typename Fn>
absl::Status ForEachOverlappingFile(const InputFiles& files, ShardRange range,
                                    Fn fn) {
  RETURN_IF_ERROR(CheckRange(files, range));
  const std::vector<InputFile>& all = files.files();
  // The first file ending after range.begin.
  auto it = std::upper_bound(
      all.begin(), all.end(), range.begin,
      [](uint64_t pos, const InputFile& f) { return pos < f.offset + f.size; });
  for (; it != all.end() && it->offset < range.end; ++it) {
    if (it->size == 0) continue;
    const uint64_t begin = std::max(range.begin, it->offset) - it->offset;
    const uint64_t limit =
        std::min(range.end, it->offset + it->size) - it->offset;
    ASSIGN_OR_RETURN(OpenedFile opened, OpenInputFile(*it));
    RETURN_IF_ERROR(
        fn(static_cast<size_t>(it - all.begin()), opened, begin, limit));
  }
  return absl::OkStatus();
}

// Streams [piece.begin, piece.end) of `file` to `fn` in blocks.
absl::Status StreamBytes(
    const OpenedFile& file, size_t index, ShardRange piece,
    const CancelFlag& cancel, std::string& buf,
    const std::function<void(size_t, std::string_view)>& fn) {
  for (uint64_t at = piece.begin; at < piece.end;) {
    if (cancel.load()) return Cancelled();
    const size_t len = static_cast<size_t>(
        std::min<uint64_t>(kInputBlockBytes, piece.end - at));
    RETURN_IF_ERROR(ReadAt(file, at, len, buf.data()));
    fn(index, std::string_view(buf.data(), len));
    at += len;
  }
  return absl::OkStatus();
}

// Streams the shard's owned bytes block by block; `piece_done` runs after
// the last block of each file's piece.
absl::Status StreamShard(
    const InputFiles& files, ShardRange range, const CancelFlag& cancel,
    const std::function<void(size_t, std::string_view)>& on_block,
    const std::function<absl::Status(size_t)>& piece_done) {
  std::string buf;
  return ForEachOverlappingFile(
      files, range,
      [&](size_t index, const OpenedFile& file, uint64_t begin,
          uint64_t limit) -> absl::Status {
        ASSIGN_OR_RETURN(const std::optional<ShardRange> owned,
                         OwnedBytes(file, begin, limit, cancel));
        if (!owned.has_value()) return absl::OkStatus();
        // A block, or the whole piece if smaller: tiny shards need no
        // zeroed MiB each (slow under ASan, which maps every such block).
        buf.resize(std::max<size_t>(
            buf.size(), std::min<uint64_t>(kInputBlockBytes,
                                           owned->end - owned->begin)));
        RETURN_IF_ERROR(
            StreamBytes(file, index, *owned, cancel, buf, on_block));
        return piece_done(index);
      });
}

// Cuts blocks into lines, keeping a line cut between blocks in `partial_`.
class LineAssembler {
 public:
  LineAssembler(const InputFiles& files,
                const std::function<void(size_t, std::string_view)>& fn)
      : files_(files), fn_(fn) {}

  void Add(size_t index, std::string_view block) {
    const char* p = block.data();
    const char* const end = p + block.size();
    while (p < end && !too_long_) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      if (nl == nullptr) {
        Keep(p, end);
        return;
      }
      if (partial_.empty()) {
        fn_(index, std::string_view(p, nl - p));
      } else {
        Keep(p, nl);
        if (!too_long_) fn_(index, partial_);
        partial_.clear();
      }
      p = nl + 1;
    }
  }

  // The piece ended: what is left is its file's last line, without '\n'.
  absl::Status Finish(size_t index) {
    if (too_long_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("a line of '", files_.files()[index].name,
                       "' is longer than ", kMaxLineBytes, " bytes"));
    }
    if (!partial_.empty()) fn_(index, partial_);
    partial_.clear();
    return absl::OkStatus();
  }

 private:
  void Keep(const char* begin, const char* end) {
    if (partial_.size() + (end - begin) > kMaxLineBytes) {
      too_long_ = true;
      partial_.clear();
      return;
    }
    partial_.append(begin, end);
  }

  const InputFiles& files_;
  const std::function<void(size_t, std::string_view)>& fn_;
  std::string partial_;
  bool too_long_ = false;
};

}  // namespace

absl::StatusOr<InputFiles> InputFiles::Open(std::vector<std::string> paths) {
  if (paths.empty()) return absl::InvalidArgumentError("no input files");
  std::vector<InputFile> files;
  files.reserve(paths.size());
  uint64_t total = 0;
  for (std::string& path : paths) {
    ASSIGN_OR_RETURN(const OpenedFile opened, OpenRegularFile(path));
    std::string name = path;
    files.push_back(
        InputFile{std::move(path), std::move(name), opened.size, total});
    total += opened.size;
  }
  return InputFiles(std::move(files), total);
}

absl::StatusOr<InputFiles> InputFiles::OpenFilesArg(
    const std::string& files, const std::string& as_submitted) {
  absl::StatusOr<InputFiles> opened = Open(absl::StrSplit(files, '\n'));
  if (opened.ok() && !as_submitted.empty()) {
    std::vector<std::string> names = absl::StrSplit(as_submitted, '\n');
    if (names.size() != opened->files_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "files: ", names.size(), " as-submitted names for ",
          opened->files_.size(), " files"));
    }
    for (size_t i = 0; i < names.size(); ++i) {
      opened->files_[i].name = std::move(names[i]);
    }
  }
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("files: ", opened.status().message()));
  }
  return opened;
}

absl::StatusOr<std::vector<FilePiece>> OwnedPieces(const InputFiles& files,
                                                   ShardRange range,
                                                   const CancelFlag& cancel) {
  std::vector<FilePiece> pieces;
  RETURN_IF_ERROR(ForEachOverlappingFile(
      files, range,
      [&](size_t index, const OpenedFile& file, uint64_t begin,
          uint64_t limit) -> absl::Status {
        ASSIGN_OR_RETURN(const std::optional<ShardRange> owned,
                         OwnedBytes(file, begin, limit, cancel));
        if (owned.has_value()) {
          pieces.push_back(FilePiece{index, owned->begin, owned->end});
        }
        return absl::OkStatus();
      }));
  return pieces;
}

absl::Status ForEachBlock(
    const InputFiles& files, ShardRange range, const CancelFlag& cancel,
    const std::function<void(size_t file_index, std::string_view bytes)>& fn) {
  return StreamShard(files, range, cancel, fn,
                     [](size_t) { return absl::OkStatus(); });
}

absl::Status ForEachLine(
    const InputFiles& files, ShardRange range, const CancelFlag& cancel,
    const std::function<void(size_t file_index, std::string_view line)>& fn) {
  LineAssembler lines(files, fn);
  return StreamShard(
      files, range, cancel,
      [&lines](size_t index, std::string_view block) {
        lines.Add(index, block);
      },
      [&lines](size_t index) { return lines.Finish(index); });
}

absl::StatusOr<ShardRange> AlignToLines(const std::string& path, ShardRange r) {
  ASSIGN_OR_RETURN(const OpenedFile file, OpenRegularFile(path));
  if (r.begin > r.end || r.end > file.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("range [", r.begin, ", ", r.end, ") is not within '", path,
                     "' (", file.size, " bytes)"));
  }
  const CancelFlag never{false};
  ASSIGN_OR_RETURN(const std::optional<ShardRange> owned,
                   OwnedBytes(file, r.begin, r.end, never));
  if (owned.has_value()) return *owned;
  // No line starts in r: an empty range where the next line would start.
  ASSIGN_OR_RETURN(const uint64_t next, NextLineStart(file, r.begin, never));
  return ShardRange{next, next};
}

}  // namespace shardex
