// Input splits: Hadoop's rule for cutting text files into shards by bytes
// while keeping every line whole. Used by the text kernels (wordcount, grep)
// and by command jobs that feed a shard's lines to a process's stdin.
//
// An InputFiles is an ordered list of regular files seen as one virtual byte
// stream [0, total_bytes()): file 0's bytes, then file 1's, and so on. A
// job's Domain is that stream; a shard is a byte range [begin, end) of it.
//
// The rule (docs/kernels.md, "Input splits"):
//   * A line is a run of bytes ended by '\n' or by the end of its file: a
//     line never spans two files, and a file's last line needs no '\n'. The
//     '\n' belongs to the line it ends. An empty file has no lines.
//   * A line belongs to exactly one shard: the one whose range contains the
//     line's FIRST byte. So a shard that starts in the middle of a line skips
//     to just after the next '\n' (a shard starting at a file's start or
//     right after a '\n' starts on a line), and a shard reads past its end to
//     finish its last line. Shards tiling the stream therefore produce every
//     line exactly once, in order, whatever the shard count.
//
// Files are read with pread in blocks of kInputBlockBytes; nothing ever loads
// a whole file. Sizes are taken by InputFiles::Open; a file whose size has
// changed when a shard reads it fails that shard with FAILED_PRECONDITION
// rather than producing lines from a different stream.
//
// Thread-safety: InputFiles is immutable after Open and safe to share; the
// free functions keep no state and may run concurrently (each call opens its
// own file descriptors).
#ifndef SHARDEX_KERNELS_INPUT_SPLIT_H_
#define SHARDEX_KERNELS_INPUT_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/shard_runner.h"
#include "kernels/split.h"

namespace shardex {

// Bytes read per pread, and how much a shard reads between two polls of its
// cancel flag (~1-10 ms of work for the text kernels).
inline constexpr size_t kInputBlockBytes = size_t{1} << 20;

// One file of an InputFiles.
struct InputFile {
  std::string path;     // as given to Open: where the bytes are read
  std::string name;     // as the user named it (== path unless staged)
  uint64_t size = 0;    // bytes, when Open ran
  uint64_t offset = 0;  // where its first byte sits in the virtual stream
};

class InputFiles {
 public:
  // Opens and stats every path, in order. Errors name the file:
  //   NOT_FOUND          the path does not exist;
  //   PERMISSION_DENIED  it cannot be opened for reading;
  //   INVALID_ARGUMENT   no paths, an empty path, a directory, or anything
  //                      else that is not a regular file (a FIFO or a device
  //                      has no size to split).
  // A path may appear more than once; each occurrence is its own file.
  static absl::StatusOr<InputFiles> Open(std::vector<std::string> paths);

  // The same for a kernel's `files` argument ('\n'-separated paths, as a
  // kPositionalList carries them); errors start with "files: ".
  // `as_submitted`, when not empty, holds the same number of paths as the
  // user named them (kAsSubmitted in kernels/kernel.h): they become the
  // files' names, shown in results and errors.
  static absl::StatusOr<InputFiles> OpenFilesArg(
      const std::string& files, const std::string& as_submitted = "");

  uint64_t total_bytes() const { return total_bytes_; }
  const std::vector<InputFile>& files() const { return files_; }
  // The domain of a job over these files: the stream [0, total_bytes()).
  Domain domain() const {
    return Domain{Domain::Kind::kRange, 0, total_bytes_};
  }

 private:
  InputFiles(std::vector<InputFile> files, uint64_t total_bytes)
      : files_(std::move(files)), total_bytes_(total_bytes) {}

  std::vector<InputFile> files_;
  uint64_t total_bytes_ = 0;
};

// The bytes of one file that a shard owns: file-local [begin, end), exactly
// the whole lines (with their '\n's) whose first byte is in the shard.
struct FilePiece {
  size_t file_index = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// The shard's non-empty pieces, one per file at most, in file order.
// `range` must lie within [0, files.total_bytes()] (else INVALID_ARGUMENT).
// Finding the line ends reads a little past range.end (to the next '\n');
// a huge line is scanned in blocks, polling `cancel` (CANCELLED).
absl::StatusOr<std::vector<FilePiece>> OwnedPieces(const InputFiles& files,
                                                   ShardRange range,
                                                   const CancelFlag& cancel);

// Streams the bytes of the shard's pieces, in order, in blocks of at most
// kInputBlockBytes. A block never spans two files; consecutive blocks of the
// same file are contiguous, so a line (or word) may be cut between blocks.
// Polls `cancel` before every block and returns CANCELLED once it is set.
absl::Status ForEachBlock(
    const InputFiles& files, ShardRange range, const CancelFlag& cancel,
    const std::function<void(size_t file_index, std::string_view bytes)>& fn);

// Longest line ForEachLine assembles; a longer one fails the shard with
// RESOURCE_EXHAUSTED instead of exhausting the worker's memory.
inline constexpr size_t kMaxLineBytes = size_t{256} << 20;

// Streams the shard's lines, in order, without their '\n' (a '\r' before it
// stays). Polls `cancel` between blocks (CANCELLED). Memory is one block
// plus the longest line: a line longer than a block is assembled whole, up
// to kMaxLineBytes.
absl::Status ForEachLine(
    const InputFiles& files, ShardRange range, const CancelFlag& cancel,
    const std::function<void(size_t file_index, std::string_view line)>& fn);

// For the single file `path`: the byte range of exactly the whole lines that
// a shard [r.begin, r.end) of that file owns under the rule above, so that
// those bytes can be fed verbatim to a process. Empty (begin == end) when the
// shard owns no line. Requires r.begin <= r.end <= the file's size
// (INVALID_ARGUMENT); file errors as for InputFiles::Open.
absl::StatusOr<ShardRange> AlignToLines(const std::string& path, ShardRange r);

}  // namespace shardex

#endif  // SHARDEX_KERNELS_INPUT_SPLIT_H_
