// JoinTokenStore: the join tokens a coordinator accepts (common/
// join_token.h), in <state-dir>/pki/join_tokens.db (SQLite, mode 0600):
// id, role, SHA-256 of the secret (never the secret), expiry, uses left,
// revocation.
//
// `shardex token create/list/revoke` open the same file on the
// coordinator's host while the coordinator runs; Redeem reads it on every
// call, so a new or revoked token takes effect at once.
//
// Thread-safety: safe from any thread (one mutex around the connection).
#ifndef SHARDEX_COORDINATOR_JOIN_TOKENS_H_
#define SHARDEX_COORDINATOR_JOIN_TOKENS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/join_token.h"
#include "common/pki.h"
#include "coordinator/pki_sqlite.h"

namespace shardex {

struct JoinTokenRecord {
  std::string id;
  std::string role;
  absl::Time created_at;
  absl::Time expires_at;
  int64_t uses = 0;      // successful joins so far
  int64_t max_uses = 0;  // 0: unlimited
  bool revoked = false;
};

class JoinTokenStore {
 public:
  static absl::StatusOr<std::unique_ptr<JoinTokenStore>> Open(
      const std::string& path);

  // A new token for `role` (worker or client) valid for `ttl`, for at most
  // `max_uses` joins (0: unlimited).
  absl::StatusOr<JoinToken> Create(const std::string& ca_fingerprint,
                                   CertRole role, absl::Duration ttl,
                                   int64_t max_uses, absl::Time now);
  // NOT_FOUND for an unknown id; revoking twice is not an error.
  absl::Status Revoke(const std::string& id, absl::Time now);
  // Every token, newest first.
  absl::StatusOr<std::vector<JoinTokenRecord>> List();

  // Checks the token's secret, expiry, revocation and uses, and uses it up
  // once. The token's role, or UNAUTHENTICATED saying why not (an unknown
  // id and a wrong secret get the same answer). A non-empty
  // `expected_role` that differs from the token's is PERMISSION_DENIED,
  // and then the token is not used up.
  absl::StatusOr<CertRole> Redeem(const JoinToken& token,
                                  absl::string_view expected_role,
                                  absl::Time now);

 private:
  JoinTokenStore(PrivateDb db, std::string path);

  const std::string path_;
  absl::Mutex mu_;
  const PrivateDb owned_db_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);  // owned_db_.get()
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_JOIN_TOKENS_H_
