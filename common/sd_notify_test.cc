// SdNotify against real AF_UNIX datagram sockets, bound the two ways
// systemd names them in $NOTIFY_SOCKET: a path and an abstract name.
#include "common/sd_notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// A bound datagram socket standing in for systemd's notify socket; the
// socket file (if any) and its directory go away with it.
class FakeServiceManager {
 public:
  // `address` as in $NOTIFY_SOCKET: "/path" or "@name".
  explicit FakeServiceManager(std::string address)
      : address_(std::move(address)),
        fd_(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, address_.data(), address_.size());
    const bool abstract = address_[0] == '@';
    if (abstract) addr.sun_path[0] = '\0';
    const socklen_t len = offsetof(sockaddr_un, sun_path) + address_.size() +
                          (abstract ? 0 : 1);
    bound_ = fd_.valid() &&
             bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~FakeServiceManager() {
    if (address_[0] == '/') unlink(address_.c_str());
  }

  bool bound() const { return bound_; }
  const std::string& address() const { return address_; }

  // The next datagram, or "" if none is waiting.
  std::string Receive() {
    char buf[4096];
    const ssize_t n = recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    return n < 0 ? "" : std::string(buf, n);
  }

 private:
  std::string address_;
  UniqueFd fd_;
  bool bound_ = false;
};

// A fresh directory for a socket file: in /tmp, as $TEST_TMPDIR can be
// longer than the 108 bytes a socket path may have.
std::string TempDir() {
  std::string dir = "/tmp/sd-notify-test-XXXXXX";
  return mkdtemp(dir.data()) != nullptr ? dir : "";
}

TEST(SdNotifyTest, SendsToAPathSocket) {
  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  {
    FakeServiceManager manager(dir + "/notify");
    EXPECT_TRUE(manager.bound()) << strerror(errno);
    EXPECT_TRUE(SdNotifyTo(manager.address(), "READY=1\nSTATUS=serving").ok());
    EXPECT_EQ(manager.Receive(), "READY=1\nSTATUS=serving");
  }  // unlinks the socket file
  rmdir(dir.c_str());
}

TEST(SdNotifyTest, SendsToAnAbstractSocket) {
  FakeServiceManager manager(
      absl::StrCat("@shardex-sd-notify-test-", getpid()));
  ASSERT_TRUE(manager.bound()) << strerror(errno);
  ASSERT_TRUE(SdNotifyTo(manager.address(), "STOPPING=1").ok());
  EXPECT_EQ(manager.Receive(), "STOPPING=1");
}

TEST(SdNotifyTest, ReadsTheAddressFromTheEnvironment) {
  FakeServiceManager manager(absl::StrCat("@shardex-sd-notify-env-", getpid()));
  ASSERT_TRUE(manager.bound()) << strerror(errno);
  setenv("NOTIFY_SOCKET", manager.address().c_str(), 1);
  const absl::Status st = SdNotify("STATUS=draining");
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(manager.Receive(), "STATUS=draining");
}

TEST(SdNotifyTest, DoesNothingOutsideSystemd) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(SdNotify("READY=1").ok());
  setenv("NOTIFY_SOCKET", "", 1);
  EXPECT_TRUE(SdNotify("READY=1").ok());
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, RejectsAddressesSystemdNeverSets) {
  const absl::Status relative = SdNotifyTo("run/notify", "READY=1");
  EXPECT_EQ(relative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(relative.message().find("NOTIFY_SOCKET"), std::string::npos)
      << relative;
  const absl::Status long_path =
      SdNotifyTo("/" + std::string(200, 'x'), "READY=1");
  EXPECT_EQ(long_path.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SdNotifyTest, NamesASocketThatIsGone) {
  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  const absl::Status st = SdNotifyTo(dir + "/absent", "READY=1");
  rmdir(dir.c_str());
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("absent"), std::string::npos) << st;
}

}  // namespace
}  // namespace shardex
