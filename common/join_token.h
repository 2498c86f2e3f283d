// Join tokens: what a new worker or user needs to enrol with a coordinator
// that runs the built-in CA, in one string:
//
//   SHDXJ1-<ca-fingerprint>-<id>.<secret>
//
//   ca-fingerprint  SHA-256 of the coordinator's CA certificate (DER), 64
//                   lower-case hex digits: the joiner checks the chain the
//                   coordinator presents against it before sending anything
//                   (no trust on first use)
//   id              8 lower-case hex digits; public, names the token in
//                   `shardex token list/revoke` and in logs
//   secret          32 lower-case hex digits (128 random bits); the
//                   coordinator keeps only its SHA-256
//
// As with Docker Swarm's SWMTKN-1-<digest>-<secret> and kubeadm's
// <id>.<secret> bootstrap tokens with --discovery-token-ca-cert-hash, the
// digest makes the token enough to find and authenticate the coordinator,
// and the secret enough for the coordinator to authenticate the joiner.
//
// Thread-safety: the functions are pure and safe from any thread.
#ifndef SHARDEX_COMMON_JOIN_TOKEN_H_
#define SHARDEX_COMMON_JOIN_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {

inline constexpr char kJoinTokenPrefix[] = "SHDXJ1-";

struct JoinToken {
  std::string ca_fingerprint;  // 64 hex digits
  std::string id;              // 8 hex digits
  std::string secret;          // 32 hex digits

  std::string ToString() const;
};

// A fresh id and secret for the CA with `ca_fingerprint`.
JoinToken NewJoinToken(const std::string& ca_fingerprint);

// INVALID_ARGUMENT saying which part is wrong; the message never repeats
// the secret.
absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text);

// SHA-256 of the secret as hex: what the coordinator stores.
std::string HashJoinSecret(absl::string_view secret);

}  // namespace shardex

#endif  // SHARDEX_COMMON_JOIN_TOKEN_H_
