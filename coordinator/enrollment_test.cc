#include "coordinator/enrollment.h"

#include <stdlib.h>

#include "common/fake_clock.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/enrollment_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    CaOptions options;
    options.dir = root_ + "/pki";
    options.advertise = {"localhost"};
    ca_ = CertificateAuthority::Open(options, &clock_).value();
    tokens_ = JoinTokenStore::Open(root_ + "/pki/join_tokens.db").value();
    enroller_ = std::make_unique<Enroller>(ca_.get(), tokens_.get());
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }

  v1::JoinRequest Request(const JoinToken& token, const std::string& csr) {
    v1::JoinRequest r;
    r.set_token_id(token.id);
    r.set_secret(token.secret);
    r.set_csr_pem(csr);
    r.set_name("host-a");
    return r;
  }
  JoinToken OneUseToken(CertRole role) {
    return tokens_
        ->Create(ca_->fingerprint(), role, absl::Hours(1), 1, clock_.Now())
        .value();
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::string root_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<JoinTokenStore> tokens_;
  std::unique_ptr<Enroller> enroller_;
  const std::string key_ = NewPrivateKeyPem().value();
};

TEST_F(EnrollmentTest, JoinIssuesTheTokensRoleAndTheCa) {
  const JoinToken token = OneUseToken(CertRole::kWorker);
  v1::EnrollResponse r =
      enroller_->Join(Request(token, NewCsrPem(key_, "x").value())).value();
  EXPECT_EQ(r.role(), "worker");
  EXPECT_EQ(r.ca_pem(), ca_->ca_cert_pem());
  EXPECT_EQ(enroller_->GetCa().ca_pem(), ca_->ca_cert_pem());
  const CertInfo info = InspectCertificate(r.cert_pem()).value();
  EXPECT_EQ(info.role, "worker");
  EXPECT_EQ(info.common_name, "host-a");
  EXPECT_TRUE(KeyMatchesCertificate(key_, r.cert_pem()));
}

TEST_F(EnrollmentTest, ABadRequestDoesNotUseUpTheToken) {
  const JoinToken token = OneUseToken(CertRole::kClient);
  EXPECT_EQ(enroller_->Join(Request(token, "not a csr")).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::JoinRequest unnamed = Request(token, NewCsrPem(key_, "x").value());
  unnamed.set_name("");
  EXPECT_FALSE(enroller_->Join(unnamed).ok());
  EXPECT_TRUE(
      enroller_->Join(Request(token, NewCsrPem(key_, "x").value())).ok());
}

TEST_F(EnrollmentTest, RenewKeepsRoleAndNameAndRefusesRevokedOrMissing) {
  const JoinToken token = OneUseToken(CertRole::kClient);
  const std::string cert =
      enroller_->Join(Request(token, NewCsrPem(key_, "x").value()))
          .value()
          .cert_pem();
  v1::RenewRequest renew;
  const std::string new_key = NewPrivateKeyPem().value();
  renew.set_csr_pem(NewCsrPem(new_key, "ignored").value());
  EXPECT_EQ(enroller_->Renew("", renew).status().code(),
            absl::StatusCode::kUnauthenticated);
  const std::string renewed = enroller_->Renew(cert, renew).value().cert_pem();
  const CertInfo info = InspectCertificate(renewed).value();
  EXPECT_EQ(info.role, "client");
  EXPECT_EQ(info.common_name, "host-a");
  EXPECT_TRUE(KeyMatchesCertificate(new_key, renewed));

  ASSERT_TRUE(
      ca_->registry()
          ->Revoke(InspectCertificate(cert).value().serial_hex, clock_.Now())
          .ok());
  absl::Status revoked = enroller_->Renew(cert, renew).status();
  EXPECT_EQ(revoked.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(revoked.message(), HasSubstr("revoked"));
}

}  // namespace
}  // namespace shardex
