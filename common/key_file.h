// Files holding secrets (private keys): written atomically with mode 0600
// from the start, and read only if no other user can access them.
//
// Thread-safety: functions are safe to call concurrently on different
// paths.
#ifndef SHARDEX_COMMON_KEY_FILE_H_
#define SHARDEX_COMMON_KEY_FILE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {

// Writes `data` to a temporary file created with `mode` beside `path`,
// syncs it and renames it over `path`: readers see the old or the whole new
// file, and a secret is never readable by others, not even for a moment.
absl::Status WriteFileWithMode(const std::string& path, absl::string_view data,
                               mode_t mode);

// WriteFileWithMode(path, data, 0600).
absl::Status WriteKeyFile(const std::string& path, absl::string_view data);

// Reads a secret file; FAILED_PRECONDITION naming the chmod to run if group
// or others can access it.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);

}  // namespace shardex

#endif  // SHARDEX_COMMON_KEY_FILE_H_
