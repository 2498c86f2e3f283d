#include "common/join_token.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kFingerprint(64, 'a');

TEST(JoinTokenTest, RoundTrips) {
  const JoinToken token = NewJoinToken(kFingerprint);
  const std::string text = token.ToString();
  EXPECT_EQ(text.rfind("SHDXJ1-" + kFingerprint + "-", 0), 0u);
  EXPECT_EQ(text.size(), 7 + 64 + 1 + 8 + 1 + 32);
  const JoinToken parsed = ParseJoinToken("  " + text + "\n").value();
  EXPECT_EQ(parsed.ca_fingerprint, kFingerprint);
  EXPECT_EQ(parsed.id, token.id);
  EXPECT_EQ(parsed.secret, token.secret);
}

TEST(JoinTokenTest, FreshTokensDiffer) {
  EXPECT_NE(NewJoinToken(kFingerprint).secret,
            NewJoinToken(kFingerprint).secret);
  EXPECT_NE(NewJoinToken(kFingerprint).id, NewJoinToken(kFingerprint).id);
}

TEST(JoinTokenTest, MalformedTokensAreRefusedWithoutEchoingTheSecret) {
  const JoinToken token = NewJoinToken(kFingerprint);
  for (const std::string& bad :
       {std::string("SWMTKN-1-abc"), "SHDXJ1-" + kFingerprint,
        "SHDXJ1-abc-" + token.id + "." + token.secret,
        "SHDXJ1-" + kFingerprint + "-" + token.id + token.secret,
        "SHDXJ1-" + kFingerprint + "-" + token.id + "." + token.secret + "0",
        "SHDXJ1-" + kFingerprint + "-" + token.id + ".ABCDEF" +
            token.secret.substr(6)}) {
    absl::StatusOr<JoinToken> parsed = ParseJoinToken(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr(token.secret)));
  }
}

TEST(JoinTokenTest, SecretHashIsSha256Hex) {
  EXPECT_EQ(HashJoinSecret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace shardex
