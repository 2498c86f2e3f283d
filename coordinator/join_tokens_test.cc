#include "coordinator/join_tokens.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

const std::string kFingerprint(64, 'f');
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

class JoinTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/join_tokens_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    path_ = root_ + "/join_tokens.db";
    store_ = JoinTokenStore::Open(path_).value();
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }

  JoinToken Create(CertRole role, absl::Duration ttl, int64_t uses) {
    return store_->Create(kFingerprint, role, ttl, uses, kNow).value();
  }

  std::string root_;
  std::string path_;
  std::unique_ptr<JoinTokenStore> store_;
};

TEST_F(JoinTokensTest, RedeemGivesTheRoleAndTheFileIsPrivate) {
  const JoinToken token = Create(CertRole::kWorker, absl::Hours(24), 0);
  EXPECT_EQ(store_->Redeem(token, "", kNow).value(), CertRole::kWorker);
  EXPECT_EQ(store_->Redeem(token, "", kNow).value(), CertRole::kWorker);
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(JoinTokensTest, TheSecretIsNotStored) {
  const JoinToken token = Create(CertRole::kClient, absl::Hours(1), 1);
  EXPECT_THAT(ReadFile(path_).value(), ::testing::Not(HasSubstr(token.secret)));
}

TEST_F(JoinTokensTest, WrongSecretAndUnknownIdGetTheSameAnswer) {
  JoinToken token = Create(CertRole::kWorker, absl::Hours(1), 0);
  token.secret[0] = token.secret[0] == '0' ? '1' : '0';
  absl::Status wrong = store_->Redeem(token, "", kNow).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.message(), HasSubstr("unknown id or wrong secret"));
  token.id = "00000000";
  EXPECT_THAT(store_->Redeem(token, "", kNow).status().message(),
              HasSubstr("unknown id or wrong secret"));
}

TEST_F(JoinTokensTest, ExpiredTokenIsRefused) {
  const JoinToken token = Create(CertRole::kWorker, absl::Hours(1), 0);
  absl::Status late = store_->Redeem(token, "", kNow + absl::Hours(1)).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(late.message(), HasSubstr("expired"));
}

TEST_F(JoinTokensTest, OneUseTokenWorksOnce) {
  const JoinToken token = Create(CertRole::kClient, absl::Hours(1), 1);
  EXPECT_EQ(store_->Redeem(token, "", kNow).value(), CertRole::kClient);
  absl::Status again = store_->Redeem(token, "", kNow).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(again.message(), HasSubstr("used 1 time, its limit"));
}

TEST_F(JoinTokensTest, RevocationFromAnotherConnectionTakesEffectAtOnce) {
  const JoinToken token = Create(CertRole::kWorker, absl::Hours(1), 0);
  ASSERT_TRUE(store_->Redeem(token, "", kNow).ok());
  auto cli = JoinTokenStore::Open(path_).value();  // `shardex token revoke`
  ASSERT_TRUE(cli->Revoke(token.id, kNow).ok());
  EXPECT_THAT(store_->Redeem(token, "", kNow).status().message(),
              HasSubstr("revoked"));
  EXPECT_EQ(cli->Revoke("12345678", kNow).code(), absl::StatusCode::kNotFound);
}

TEST_F(JoinTokensTest, ListShowsUsesAndState) {
  const JoinToken a = Create(CertRole::kWorker, absl::Hours(1), 2);
  ASSERT_TRUE(store_->Redeem(a, "", kNow).ok());
  ASSERT_TRUE(store_->Revoke(a.id, kNow).ok());
  const std::vector<JoinTokenRecord> list = store_->List().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, a.id);
  EXPECT_EQ(list[0].role, "worker");
  EXPECT_EQ(list[0].uses, 1);
  EXPECT_EQ(list[0].max_uses, 2);
  EXPECT_TRUE(list[0].revoked);
  EXPECT_EQ(list[0].expires_at, kNow + absl::Hours(1));
}

TEST_F(JoinTokensTest, RoleMismatchIsRefusedWithoutUsingTheToken) {
  const JoinToken token = Create(CertRole::kClient, absl::Hours(1), 1);
  absl::Status st = store_->Redeem(token, "worker", kNow).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("is for a client, not a worker"));
  EXPECT_EQ(store_->Redeem(token, "client", kNow).value(), CertRole::kClient);
}

TEST_F(JoinTokensTest, ServerRoleAndBadLimitsAreRefused) {
  EXPECT_FALSE(
      store_->Create(kFingerprint, CertRole::kServer, absl::Hours(1), 0, kNow)
          .ok());
  EXPECT_FALSE(store_
                   ->Create(kFingerprint, CertRole::kWorker,
                            absl::ZeroDuration(), 0, kNow)
                   .ok());
}

}  // namespace
}  // namespace shardex
