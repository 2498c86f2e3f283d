// Checks on text that arrives from clients and workers: one place for the
// NUL-byte rule (argv strings, paths and names cannot carry a NUL, and a
// NUL in a message is a sign of garbage).
//
// Thread-safety: pure functions.
#ifndef SHARDEX_COMMON_TEXT_CHECKS_H_
#define SHARDEX_COMMON_TEXT_CHECKS_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace shardex {

inline bool HasNul(absl::string_view text) {
  return text.find('\0') != absl::string_view::npos;
}

// INVALID_ARGUMENT "<field>: contains a NUL byte" when `value` has one.
inline absl::Status CheckNoNul(absl::string_view field,
                               absl::string_view value) {
  if (!HasNul(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": contains a NUL byte"));
}

}  // namespace shardex

#endif  // SHARDEX_COMMON_TEXT_CHECKS_H_
