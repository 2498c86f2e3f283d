// Small file helpers with absl::Status errors.
//
// Thread-safety: functions are safe to call concurrently on different
// paths.
#ifndef SHARDEX_COMMON_FILE_UTIL_H_
#define SHARDEX_COMMON_FILE_UTIL_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {

// Writes `data` to a temporary name beside `path`, syncs it and renames it
// over `path`, so readers see the old file or the whole new one, never a
// partial one.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data);

absl::StatusOr<std::string> ReadFile(const std::string& path);

// An error for the failed system call that set errno: "<what> <path>:
// <strerror>", NOT_FOUND for ENOENT, PERMISSION_DENIED for EACCES/EPERM,
// INTERNAL otherwise.
absl::Status ErrnoError(absl::string_view what, const std::string& path);

// mkdir -p: creates `dir` and any missing parents with `mode` (existing
// ones are left as they are). Errors name `what` ("--output", "state
// directory") and the prefix that could not be made.
absl::Status MakeDirs(const std::string& dir, mode_t mode,
                      absl::string_view what);

// The directory for temporary files: $TMPDIR when set and non-empty, else
// /tmp.
std::string TempDir();

// Creates a fresh, empty, private (0700) dir "shard-XXXXXX" (mkdtemp) under
// `scratch_root` -- TempDir() when empty -- and returns its absolute path:
// a child process resolves paths after its chdir into it. The root must
// exist.
absl::StatusOr<std::string> MakeWorkDir(const std::string& scratch_root);

// Creates `dir` (and its parents) if needed. FAILED_PRECONDITION if it
// exists and is not an empty directory, so two jobs never mix their files.
absl::Status PrepareOutputDir(const std::string& dir);

// Removes `path` and everything below it, never following symlinks (a link
// to elsewhere loses only the link), and taking back permissions a child
// process removed. Keeps going past failures; returns the first. A missing
// path is not an error.
absl::Status RemoveTree(const std::string& path);

// "part-00042": the file name of shard 42's output in an output directory.
std::string PartFileName(uint64_t shard);
// "part-0002500-0005000": the file name of the output of the shard covering
// [begin, end) of a domain whose end is `domain_end` (adaptive shards,
// which have no fixed index). Both numbers have as many digits as
// `domain_end`, so names sort in range order.
std::string RangePartFileName(uint64_t begin, uint64_t end,
                              uint64_t domain_end);

}  // namespace shardex

#endif  // SHARDEX_COMMON_FILE_UTIL_H_
