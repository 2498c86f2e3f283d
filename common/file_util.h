// Small file helpers with absl::Status errors.
//
// Thread-safety: functions are safe to call concurrently on different
// paths.
#ifndef SHARDEX_COMMON_FILE_UTIL_H_
#define SHARDEX_COMMON_FILE_UTIL_H_

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

// Creates `dir` (and its parents) if needed. FAILED_PRECONDITION if it
// exists and is not an empty directory, so two jobs never mix their files.
absl::Status PrepareOutputDir(const std::string& dir);

// "part-00042": the file name of shard 42's output in an output directory.
std::string PartFileName(uint64_t shard);

}  // namespace shardex

#endif  // SHARDEX_COMMON_FILE_UTIL_H_
