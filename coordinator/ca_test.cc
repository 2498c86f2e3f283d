#include "coordinator/ca.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/ca_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    options_.dir = root_ + "/pki";
    options_.advertise = {"localhost", "127.0.0.1", "coord.example"};
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }

  std::unique_ptr<CertificateAuthority> Open() {
    auto ca = CertificateAuthority::Open(options_, &clock_);
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? *std::move(ca) : nullptr;
  }
  std::string ServerCert() {
    return ReadFile(options_.dir + "/server.crt").value();
  }

  std::string root_;
  CaOptions options_;
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
};

TEST_F(CaTest, FirstStartMakesPrivateFilesAndLaterStartsReuseThem) {
  auto ca = Open();
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(ModeOf(options_.dir), 0700u);
  EXPECT_EQ(ModeOf(options_.dir + "/ca.key"), 0600u);
  EXPECT_EQ(ModeOf(options_.dir + "/server.key"), 0600u);
  EXPECT_EQ(ModeOf(options_.dir + "/registry.db"), 0600u);
  EXPECT_EQ(ModeOf(options_.dir + "/ca.crt"), 0644u);
  const std::string fingerprint = ca->fingerprint();
  const std::string server = ServerCert();
  ca.reset();
  auto again = Open();
  EXPECT_EQ(again->fingerprint(), fingerprint);
  EXPECT_EQ(ServerCert(), server);  // still current: not re-issued
}

TEST_F(CaTest, ServerCertificateChainsAndNamesTheAdvertisedAddresses) {
  auto ca = Open();
  const std::string cert = ServerCert();
  EXPECT_TRUE(VerifyCertificate(ca->ca_cert_pem(), cert, clock_.Now()).ok());
  const CertInfo info = InspectCertificate(cert).value();
  EXPECT_EQ(info.role, "server");
  EXPECT_THAT(info.dns_names, Contains("coord.example"));
  EXPECT_THAT(info.dns_names, Contains("localhost"));
  EXPECT_THAT(info.ip_addresses, Contains("127.0.0.1"));
  EXPECT_TRUE(KeyMatchesCertificate(
      ReadFile(options_.dir + "/server.key").value(), cert));
}

TEST_F(CaTest, ServerCertificateRenewedNearExpiryAndWhenNamesChange) {
  auto ca = Open();
  const std::string first = ServerCert();
  clock_.Advance(absl::Hours(24 * 30));
  EXPECT_FALSE(ca->RenewServerCertificateIfNeeded().value());
  clock_.Advance(absl::Hours(24 * 31));  // 61 of 90 days: a third left
  EXPECT_TRUE(ca->RenewServerCertificateIfNeeded().value());
  const std::string second = ServerCert();
  EXPECT_NE(second, first);
  ca.reset();
  options_.advertise.push_back("10.1.2.3");
  ca = Open();
  EXPECT_NE(ServerCert(), second);
  EXPECT_THAT(InspectCertificate(ServerCert()).value().ip_addresses,
              Contains("10.1.2.3"));
}

TEST_F(CaTest, SignsWorkerAndClientCertificatesWithShortLives) {
  auto ca = Open();
  const std::string key = NewPrivateKeyPem().value();
  const std::string cert =
      ca->Sign(NewCsrPem(key, "ignored").value(), CertRole::kWorker, "w1")
          .value();
  EXPECT_TRUE(VerifyCertificate(ca->ca_cert_pem(), cert, clock_.Now()).ok());
  const CertInfo info = InspectCertificate(cert).value();
  EXPECT_EQ(info.role, "worker");
  EXPECT_EQ(info.common_name, "w1");
  EXPECT_EQ(info.not_after, clock_.Now() + absl::Hours(24));
  EXPECT_FALSE(
      VerifyCertificate(ca->ca_cert_pem(), cert, clock_.Now() + absl::Hours(25))
          .ok());
  EXPECT_EQ(ca->Sign(NewCsrPem(key, "x").value(), CertRole::kServer, "x")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CaTest, RevocationIsRecordedAndSeenByAnotherOpenOfTheRegistry) {
  auto ca = Open();
  const std::string key = NewPrivateKeyPem().value();
  const std::string serial =
      InspectCertificate(
          ca->Sign(NewCsrPem(key, "c").value(), CertRole::kClient, "me")
              .value())
          .value()
          .serial_hex;
  EXPECT_FALSE(ca->registry()->IsRevoked(serial).value());
  // As `shardex cert revoke` would, from another process.
  auto other = CertRegistry::Open(options_.dir + "/registry.db").value();
  ASSERT_TRUE(other->Revoke(serial, clock_.Now()).ok());
  EXPECT_TRUE(ca->registry()->IsRevoked(serial).value());
  EXPECT_EQ(other->Revoke("ABCDEF", clock_.Now()).code(),
            absl::StatusCode::kNotFound);
  const std::vector<IssuedCert> list = ca->registry()->List().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].serial_hex, serial);
  EXPECT_EQ(list[0].role, "client");
  EXPECT_TRUE(list[0].revoked);
}

TEST_F(CaTest, IncompleteCaIsRefusedNotReplaced) {
  Open();
  ASSERT_EQ(unlink((options_.dir + "/ca.crt").c_str()), 0);
  auto ca = CertificateAuthority::Open(options_, &clock_);
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr("incomplete"));
}

TEST_F(CaTest, DefaultNamesIncludeLoopbackAndTheListenHost) {
  const std::vector<std::string> names =
      DefaultAdvertisedNames("192.0.2.7:7473");
  EXPECT_THAT(names, Contains("192.0.2.7"));
  EXPECT_THAT(names, Contains("localhost"));
  EXPECT_THAT(names, Contains("127.0.0.1"));
  EXPECT_THAT(DefaultAdvertisedNames("0.0.0.0:7473"),
              ::testing::Not(Contains("0.0.0.0")));
}

}  // namespace
}  // namespace shardex
