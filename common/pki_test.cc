#include "common/pki.h"

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

struct TestCa {
  std::string key;
  std::string cert;
};

TestCa MakeCa() {
  TestCa ca;
  ca.key = NewPrivateKeyPem().value();
  ca.cert = SelfSignedCaPem(ca.key, "test CA", kNow - absl::Hours(1),
                            kNow + absl::Hours(24 * 365))
                .value();
  return ca;
}

CertProfile Profile(CertRole role) {
  CertProfile p;
  p.common_name = "host-1";
  p.role = role;
  p.not_before = kNow - absl::Minutes(5);
  p.not_after = kNow + absl::Hours(24);
  return p;
}

TEST(PkiTest, CaIsSelfSignedAndMarkedCa) {
  const TestCa ca = MakeCa();
  EXPECT_TRUE(VerifyCertificate(ca.cert, ca.cert, kNow).ok());
  const CertInfo info = InspectCertificate(ca.cert).value();
  EXPECT_TRUE(info.is_ca);
  EXPECT_EQ(info.common_name, "test CA");
  EXPECT_TRUE(KeyMatchesCertificate(ca.key, ca.cert));
}

TEST(PkiTest, ServerCertificateChainsAndNamesItsHosts) {
  const TestCa ca = MakeCa();
  const std::string key = NewPrivateKeyPem().value();
  CertProfile p = Profile(CertRole::kServer);
  p.dns_names = {"localhost", "coord.example"};
  p.ip_addresses = {"127.0.0.1", "::1"};
  const std::string cert =
      IssueCertificatePem(ca.cert, ca.key, PublicKeyPem(key).value(), p)
          .value();
  ASSERT_TRUE(VerifyCertificate(ca.cert, cert, kNow).ok());
  const CertInfo info = InspectCertificate(cert).value();
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.role, "server");
  EXPECT_THAT(info.dns_names, ElementsAre("localhost", "coord.example"));
  EXPECT_THAT(info.ip_addresses, ElementsAre("127.0.0.1", "::1"));
  EXPECT_TRUE(KeyMatchesCertificate(key, cert));
  EXPECT_FALSE(KeyMatchesCertificate(ca.key, cert));
}

TEST(PkiTest, CsrCarriesTheRequestersKeyAndTheRoleComesFromTheCa) {
  const TestCa ca = MakeCa();
  const std::string key = NewPrivateKeyPem().value();
  const std::string csr = NewCsrPem(key, "worker-7").value();
  const std::string public_key = CsrPublicKeyPem(csr).value();
  EXPECT_EQ(public_key, PublicKeyPem(key).value());
  const std::string cert = IssueCertificatePem(ca.cert, ca.key, public_key,
                                               Profile(CertRole::kWorker))
                               .value();
  const CertInfo info = InspectCertificate(cert).value();
  EXPECT_EQ(info.role, "worker");
  EXPECT_EQ(info.not_after, kNow + absl::Hours(24));
  EXPECT_EQ(info.not_before, kNow - absl::Minutes(5));
  EXPECT_TRUE(KeyMatchesCertificate(key, cert));
}

TEST(PkiTest, SerialsAreRandomAndDistinct) {
  const TestCa ca = MakeCa();
  const std::string pub = PublicKeyPem(NewPrivateKeyPem().value()).value();
  const CertInfo a =
      InspectCertificate(
          IssueCertificatePem(ca.cert, ca.key, pub, Profile(CertRole::kClient))
              .value())
          .value();
  const CertInfo b =
      InspectCertificate(
          IssueCertificatePem(ca.cert, ca.key, pub, Profile(CertRole::kClient))
              .value())
          .value();
  EXPECT_NE(a.serial_hex, b.serial_hex);
  EXPECT_GE(a.serial_hex.size(), 30u);
}

TEST(PkiTest, ExpiredOrForeignCertificatesDoNotVerify) {
  const TestCa ca = MakeCa();
  const TestCa other = MakeCa();
  const std::string pub = PublicKeyPem(NewPrivateKeyPem().value()).value();
  const std::string cert =
      IssueCertificatePem(ca.cert, ca.key, pub, Profile(CertRole::kClient))
          .value();
  absl::Status late = VerifyCertificate(ca.cert, cert, kNow + absl::Hours(25));
  EXPECT_EQ(late.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(late.message(), HasSubstr("expired"));
  EXPECT_EQ(VerifyCertificate(other.cert, cert, kNow).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(PkiTest, TamperedCsrIsRefused) {
  const std::string key = NewPrivateKeyPem().value();
  std::string csr = NewCsrPem(key, "x").value();
  csr[csr.size() / 2] = csr[csr.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(CsrPublicKeyPem(csr).ok());
  EXPECT_FALSE(CsrPublicKeyPem("garbage").ok());
}

TEST(PkiTest, FingerprintIsSha256Hex) {
  const TestCa ca = MakeCa();
  const std::string fp = CertificateFingerprint(ca.cert).value();
  EXPECT_EQ(fp.size(), 64u);
  EXPECT_EQ(fp, CertificateFingerprint(ca.cert).value());
  EXPECT_NE(fp, CertificateFingerprint(MakeCa().cert).value());
}

TEST(PkiTest, NamesThatCouldInjectExtensionsAreRefused) {
  const TestCa ca = MakeCa();
  const std::string pub = PublicKeyPem(NewPrivateKeyPem().value()).value();
  CertProfile p = Profile(CertRole::kServer);
  p.dns_names = {"a.example,IP:10.0.0.1"};
  EXPECT_EQ(IssueCertificatePem(ca.cert, ca.key, pub, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  p.dns_names = {};
  p.ip_addresses = {"10.0.0.300"};
  EXPECT_EQ(IssueCertificatePem(ca.cert, ca.key, pub, p).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PkiTest, RoleNamesRoundTrip) {
  EXPECT_EQ(ParseCertRole("worker").value(), CertRole::kWorker);
  EXPECT_EQ(ParseCertRole("client").value(), CertRole::kClient);
  EXPECT_FALSE(ParseCertRole("admin").ok());
}

}  // namespace
}  // namespace shardex
