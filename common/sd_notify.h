// The sd_notify protocol, by hand (no libsystemd): how a Type=notify
// service tells systemd it is ready, stopping, or what it is doing.
//
// systemd puts the address of a datagram socket in $NOTIFY_SOCKET: a path
// ("/run/systemd/notify") or an abstract name ("@..."; '@' stands for the
// leading NUL). A notification is one datagram of newline-separated
// assignments, e.g. "READY=1\nSTATUS=serving on port 7473". systemd learns
// the sender's PID from the socket's credentials, so with NotifyAccess=main
// only the service's main process (any of its threads) is heard; programs
// the worker runs for command shards inherit the variable but are ignored.
//
// Outside systemd (the variable unset or empty) every call does nothing,
// so the coordinator and the worker send unconditionally.
//
// Thread-safety: safe from any thread (each call uses its own socket).
#ifndef SHARDEX_COMMON_SD_NOTIFY_H_
#define SHARDEX_COMMON_SD_NOTIFY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shardex {

// Sends `state` to the socket named by $NOTIFY_SOCKET; OK without sending
// when the variable is unset or empty. Errors name the variable: an
// address that is neither absolute nor abstract, too long, or a send that
// fails (e.g. the socket is gone).
absl::Status SdNotify(absl::string_view state);

// As SdNotify, to `address` ("/path" or "@abstract"; empty: do nothing).
absl::Status SdNotifyTo(absl::string_view address, absl::string_view state);

// SdNotify that logs a failure as a warning: a service manager that cannot
// be told is no reason to stop serving (systemd then times the start out
// and says so itself).
void NotifyServiceManager(absl::string_view state);

}  // namespace shardex

#endif  // SHARDEX_COMMON_SD_NOTIFY_H_
