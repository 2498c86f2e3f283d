// TLS mistakes named for what they are, through the real `shardex` binary
// and real coordinators on 127.0.0.1 with throwaway certificates
// (tests/test_certs.h): each wrong CLI setup gets the message naming the
// mistake and the flag or file that fixes it, not "is `shardex
// coordinator` running there?", and no raw gRPC log lines at the default
// log level. A worker with a TLS mistake exits 2 at once; a worker facing
// an unreachable coordinator keeps retrying.
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_certs.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

const TestCertificates& Certs() {
  static const TestCertificates* certs = [] {
    auto made =
        TestCertificates::Make(absl::StrCat(getenv("TEST_TMPDIR"), "/certs"));
    EXPECT_TRUE(made.ok()) << made.status();
    return new TestCertificates(*made);
  }();
  return *certs;
}

std::unique_ptr<TestCluster> StartCluster(std::vector<std::string> flags,
                                          TlsFiles client_tls) {
  auto c = TestCluster::Start(std::move(flags), std::move(client_tls));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(c).value() : nullptr;
}

std::vector<std::string> ServerTls() {
  return {"--tls-cert=" + Certs().path("server.pem"),
          "--tls-key=" + Certs().path("server.key")};
}

TlsFiles TrustingClient() {
  TlsFiles tls;
  tls.ca = Certs().path("ca.pem");
  return tls;
}

// `shardex jobs` against `c` with `flags`; expects exit 3 and every one of
// `expected` in the message, and no raw gRPC log line on stderr.
void ExpectMistake(const TestCluster& c, std::vector<std::string> flags,
                   const std::vector<std::string>& expected,
                   const std::string& address = "") {
  std::vector<std::string> argv = {
      "jobs", "--coordinator=" + (address.empty() ? c.address() : address),
      "--token-file=" + c.token_file()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  CliRun run = RunCli(argv, absl::Seconds(60));
  EXPECT_EQ(run.exit_code, 3) << run.err;
  for (const std::string& text : expected) {
    EXPECT_NE(run.err.find(text), std::string::npos)
        << "missing \"" << text << "\" in: " << run.err;
  }
  EXPECT_EQ(run.err.find("is `shardex coordinator` running"), std::string::npos)
      << run.err;
  // gRPC's own lines ("E1206 ... ssl_transport_security.cc:...") stay out
  // at the default log level; only our one line shows.
  EXPECT_EQ(run.err.find(".cc:"), std::string::npos) << run.err;
}

TEST(TlsErrorsTest, MistakesAgainstATlsCoordinator) {
  auto c = StartCluster(ServerTls(), TrustingClient());
  ASSERT_NE(c, nullptr);
  ExpectMistake(*c, {},
                {"speaks TLS, but this program connects in plaintext",
                 "--tls-ca", "issued by /CN=ca"});
  ExpectMistake(*c, {"--tls-ca=" + Certs().path("other-ca.pem")},
                {"certificate verify failed", "issued by /CN=ca",
                 "--tls-ca " + Certs().path("other-ca.pem"), "did not sign"});
  ExpectMistake(*c, {"--tls-ca=" + Certs().path("ca.pem")},
                {"dialled as localhost", "IP:127.0.0.1", "--coordinator"},
                absl::StrCat("localhost:",
                             c->address().substr(c->address().rfind(':') + 1)));
  // The right CA works.
  CliRun ok = c->Cli("jobs", {});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(TlsErrorsTest, TlsClientAgainstAPlaintextCoordinator) {
  auto c = StartCluster({}, {});
  ASSERT_NE(c, nullptr);
  ExpectMistake(*c, {"--tls-ca=" + Certs().path("ca.pem")},
                {"does not speak TLS", "drop --tls-ca"});
}

TEST(TlsErrorsTest, ClientCertificateMistakesAgainstMutualTls) {
  std::vector<std::string> flags = ServerTls();
  flags.push_back("--tls-ca=" + Certs().path("ca.pem"));
  TlsFiles client = TrustingClient();
  client.cert = Certs().path("client.pem");
  client.key = Certs().path("client.key");
  auto c = StartCluster(flags, client);
  ASSERT_NE(c, nullptr);
  const std::string ca = "--tls-ca=" + Certs().path("ca.pem");
  ExpectMistake(*c, {ca}, {"requires a client certificate", "--tls-cert"});
  ExpectMistake(*c,
                {ca, "--tls-cert=" + Certs().path("expired-client.pem"),
                 "--tls-key=" + Certs().path("client.key")},
                {"expired on", Certs().path("expired-client.pem")});
  ExpectMistake(*c,
                {ca, "--tls-cert=" + Certs().path("stranger.pem"),
                 "--tls-key=" + Certs().path("stranger.key")},
                {"rejected the client certificate",
                 Certs().path("stranger.pem"), "issued by /CN=other-ca"});
  CliRun ok = c->Cli("jobs", {});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;

  // A worker without a client certificate gives up with the reason.
  auto worker = BackgroundCli::Start({"worker", "--coordinator=" + c->address(),
                                      "--token-file=" + c->token_file(), ca});
  ASSERT_TRUE(worker.ok());
  CliRun w = (*worker)->Finish(absl::Seconds(60));
  EXPECT_EQ(w.exit_code, 2) << w.err;
  EXPECT_NE(w.err.find("requires a client certificate"), std::string::npos)
      << w.err;
}

TEST(TlsErrorsTest, WorkerKeepsRetryingAnUnreachableCoordinator) {
  auto c = StartCluster({}, {});
  ASSERT_NE(c, nullptr);
  const std::string address = c->address();
  const std::string token_file = c->token_file();
  c->Shutdown();  // nothing listens there now: that can heal
  auto worker = BackgroundCli::Start(
      {"worker", "--coordinator=" + address, "--token-file=" + token_file});
  ASSERT_TRUE(worker.ok());
  absl::SleepFor(absl::Seconds(3));
  EXPECT_TRUE((*worker)->running());
  CliRun w = (*worker)->Finish(absl::ZeroDuration());
  EXPECT_EQ(w.err.find("giving up"), std::string::npos) << w.err;
}

}  // namespace
}  // namespace shardex
