#include "common/join_token.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/rand.h"
#include "openssl/sha.h"

namespace shardex {

namespace {

constexpr size_t kFingerprintDigits = 64;
constexpr size_t kIdDigits = 8;
constexpr size_t kSecretDigits = 32;

std::string RandomHex(size_t digits) {
  std::string bytes(digits / 2, '\0');
  // RAND_bytes fails only if the system has no entropy at all; there is
  // no safe fallback, so stop rather than hand out a guessable secret.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()),
                 static_cast<int>(bytes.size())) != 1) {
    abort();
  }
  return absl::BytesToHexString(bytes);
}

bool IsLowerHex(absl::string_view s, size_t digits) {
  if (s.size() != digits) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        (c < 'a' || c > 'f')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string JoinToken::ToString() const {
  return absl::StrCat(kJoinTokenPrefix, ca_fingerprint, "-", id, ".", secret);
}

JoinToken NewJoinToken(const std::string& ca_fingerprint) {
  return JoinToken{ca_fingerprint, RandomHex(kIdDigits),
                   RandomHex(kSecretDigits)};
}

absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&text, kJoinTokenPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a join token starts with ", kJoinTokenPrefix,
        " (print one on the coordinator's host: shardex token create)"));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  const std::vector<absl::string_view> credential =
      parts.size() == 2 ? absl::StrSplit(parts[1], '.')
                        : std::vector<absl::string_view>{};
  if (parts.size() != 2 || credential.size() != 2) {
    return absl::InvalidArgumentError(
        "a join token is SHDXJ1-<CA fingerprint>-<id>.<secret>");
  }
  if (!IsLowerHex(parts[0], kFingerprintDigits)) {
    return absl::InvalidArgumentError(
        "the join token's CA fingerprint is not 64 hex digits");
  }
  if (!IsLowerHex(credential[0], kIdDigits) ||
      !IsLowerHex(credential[1], kSecretDigits)) {
    return absl::InvalidArgumentError(
        "the join token's <id>.<secret> is not 8.32 hex digits (copied "
        "whole?)");
  }
  return JoinToken{std::string(parts[0]), std::string(credential[0]),
                   std::string(credential[1])};
}

std::string HashJoinSecret(absl::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace shardex
