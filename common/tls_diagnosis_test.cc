// DiagnoseTls without certificates: what is not a TLS mistake stays OK
// (nothing listening, a silent peer, an unparsable address), and a TLS
// client meeting a plaintext HTTP/2 server is named. The certificate cases
// run end to end in tests/tls_errors_test.cc.
#include "common/tls_diagnosis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// A 127.0.0.1 listener whose one accepted connection gets `reply` (and is
// then closed), or nothing and stays open until the listener goes.
class Listener {
 public:
  explicit Listener(std::string reply, bool silent = false)
      : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    listen(fd_, 4);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, reply, silent] {
      const int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      if (silent) {
        char buf[4096];
        while (read(conn, buf, sizeof(buf)) > 0) {
        }
      } else {
        send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      close(conn);
    });
  }
  ~Listener() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_;
  int port_ = 0;
  std::thread thread_;
};

TlsFiles SomeCa() {
  TlsFiles tls;
  tls.ca = "/nonexistent/ca.pem";  // the probe does not need it to load
  return tls;
}

TEST(TlsDiagnosisTest, NothingListeningIsNotATlsMistake) {
  EXPECT_TRUE(DiagnoseTls("127.0.0.1:1", {}).ok());
  EXPECT_TRUE(DiagnoseTls("127.0.0.1:1", SomeCa()).ok());
  EXPECT_TRUE(DiagnoseTls("no port here", SomeCa()).ok());
}

TEST(TlsDiagnosisTest, ASilentPeerIsNotATlsMistakeAndTheProbeIsBounded) {
  Listener silent("", /*silent=*/true);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(
      DiagnoseTls(silent.address(), SomeCa(), absl::Milliseconds(300)).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));  // generous
}

TEST(TlsDiagnosisTest, TlsClientMeetingPlaintextHttp2IsNamed) {
  // What a plaintext gRPC server sends first: an HTTP/2 SETTINGS frame.
  Listener plaintext(std::string("\0\0\0\4\0\0\0\0\0", 9));
  absl::Status st = DiagnoseTls(plaintext.address(), SomeCa());
  EXPECT_TRUE(IsTlsMistake(st)) << st;
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("does not speak TLS"), std::string::npos) << st;
  EXPECT_NE(st.message().find("drop --tls-ca"), std::string::npos) << st;
}

TEST(TlsDiagnosisTest, PlaintextClientMeetingPlaintextIsNotATlsMistake) {
  Listener plaintext(std::string("\0\0\0\4\0\0\0\0\0", 9));
  EXPECT_TRUE(DiagnoseTls(plaintext.address(), {}).ok());
}

TEST(TlsDiagnosisTest, OtherErrorsAreNotTlsMistakes) {
  EXPECT_FALSE(IsTlsMistake(absl::FailedPreconditionError("x")));
  EXPECT_FALSE(IsTlsMistake(absl::OkStatus()));
}

}  // namespace
}  // namespace shardex
