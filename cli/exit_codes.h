// Exit codes of the `shardex` command (also in docs/operations.md and
// `shardex --help`), and the mapping from a failed call's status to one.
//
// Thread-safety: constants and a pure function.
#ifndef SHARDEX_CLI_EXIT_CODES_H_
#define SHARDEX_CLI_EXIT_CODES_H_

#include "absl/status/status.h"

namespace shardex {

enum ExitCode : int {
  kExitOk = 0,           // the command (or job) succeeded
  kExitJobFailed = 1,    // the job failed, or an unexpected error
  kExitUsage = 2,        // bad flags or input the coordinator rejected
  kExitUnavailable = 3,  // the coordinator could not be reached
  kExitCancelled = 4,    // the job was cancelled
};

// Maps a failed call's status to the exit code a script can act on.
inline int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kCancelled:
      return kExitCancelled;
    default:
      return kExitJobFailed;
  }
}

constexpr char kExitCodeHelp[] =
    "Exit codes: 0 success; 1 job failed; 2 bad usage or input rejected "
    "(including a refused command job or token); "
    "3 coordinator unreachable; 4 job cancelled.";

}  // namespace shardex

#endif  // SHARDEX_CLI_EXIT_CODES_H_
