#include "common/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// Fills `addr` from "/path" or "@name" and returns the length to pass to
// sendto(), or 0 with `*error` set.
socklen_t FillAddress(absl::string_view address, sockaddr_un* addr,
                      std::string* error) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  const bool abstract = address[0] == '@';
  if (!abstract && address[0] != '/') {
    *error = "is neither an absolute path nor an abstract name (@...)";
    return 0;
  }
  // A path needs room for its terminating NUL; an abstract name has none.
  if (address.size() + (abstract ? 0 : 1) > sizeof(addr->sun_path)) {
    *error = absl::StrCat("is longer than the ", sizeof(addr->sun_path),
                          " bytes a socket address holds");
    return 0;
  }
  memcpy(addr->sun_path, address.data(), address.size());
  if (abstract) addr->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                address.size() + (abstract ? 0 : 1));
}

}  // namespace

absl::Status SdNotifyTo(absl::string_view address, absl::string_view state) {
  if (address.empty()) return absl::OkStatus();
  sockaddr_un addr;
  std::string error;
  const socklen_t len = FillAddress(address, &addr, &error);
  if (len == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET \"", address, "\" ", error));
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return absl::InternalError(
        absl::StrCat("NOTIFY_SOCKET: socket: ", strerror(errno)));
  }
  ssize_t sent;
  do {
    sent = sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    return absl::UnavailableError(absl::StrCat(
        "NOTIFY_SOCKET \"", address, "\": sendto: ", strerror(errno)));
  }
  if (static_cast<size_t>(sent) != state.size()) {  // datagrams are whole
    return absl::InternalError(absl::StrCat(
        "NOTIFY_SOCKET \"", address, "\": sent ", sent, " of ", state.size(),
        " bytes"));
  }
  return absl::OkStatus();
}

absl::Status SdNotify(absl::string_view state) {
  const char* address = getenv("NOTIFY_SOCKET");
  return SdNotifyTo(address == nullptr ? "" : address, state);
}

void NotifyServiceManager(absl::string_view state) {
  if (absl::Status st = SdNotify(state); !st.ok()) {
    LOG(WARNING) << "telling systemd \"" << state << "\": " << st.message();
  }
}

}  // namespace shardex
