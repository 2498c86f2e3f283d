#include "coordinator/join_tokens.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "openssl/crypto.h"

namespace shardex {

namespace {

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS join_tokens ("
    "  id TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  secret_sha256 TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  uses INTEGER NOT NULL DEFAULT 0,"
    "  max_uses INTEGER NOT NULL,"
    "  revoked_at INTEGER)";

absl::Status Refused(const std::string& id, absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat("join token ", id, " ", why,
                   "; ask the coordinator's operator for a new one "
                   "(shardex token create)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JoinTokenStore>> JoinTokenStore::Open(
    const std::string& path) {
  ASSIGN_OR_RETURN(PrivateDb db, OpenPrivateDb(path, kSchema));
  return std::unique_ptr<JoinTokenStore>(
      new JoinTokenStore(std::move(db), path));
}

JoinTokenStore::JoinTokenStore(PrivateDb db, std::string path)
    : path_(std::move(path)), owned_db_(std::move(db)), db_(owned_db_.get()) {}

absl::StatusOr<JoinToken> JoinTokenStore::Create(
    const std::string& ca_fingerprint, CertRole role, absl::Duration ttl,
    int64_t max_uses, absl::Time now) {
  if (role == CertRole::kServer) {
    return absl::InvalidArgumentError(
        "a join token is for a worker or a client");
  }
  if (ttl <= absl::ZeroDuration() || max_uses < 0) {
    return absl::InvalidArgumentError(
        "a join token needs a positive lifetime and a non-negative use count");
  }
  const JoinToken token = NewJoinToken(ca_fingerprint);
  absl::MutexLock lock(&mu_);
  Statement stmt(db_,
                 "INSERT INTO join_tokens (id, role, secret_sha256, "
                 "created_at, expires_at, max_uses) VALUES (?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  stmt.Text(1, token.id)
      .Text(2, CertRoleName(role))
      .Text(3, HashJoinSecret(token.secret))
      .Int(4, absl::ToUnixSeconds(now))
      .Int(5, absl::ToUnixSeconds(now + ttl))
      .Int(6, max_uses);
  if (stmt.Step() != SQLITE_DONE) {
    return SqliteError(db_, "cannot store the join token", path_);
  }
  return token;
}

absl::Status JoinTokenStore::Revoke(const std::string& id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Statement stmt(db_,
                 "UPDATE join_tokens SET revoked_at = COALESCE(revoked_at, ?) "
                 "WHERE id = ?");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  stmt.Int(1, absl::ToUnixSeconds(now)).Text(2, id);
  if (stmt.Step() != SQLITE_DONE) {
    return SqliteError(db_, "cannot revoke the join token", path_);
  }
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("no join token with id ", id,
                                            " (see: shardex token list)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JoinTokenRecord>> JoinTokenStore::List() {
  absl::MutexLock lock(&mu_);
  Statement stmt(db_,
                 "SELECT id, role, created_at, expires_at, uses, max_uses, "
                 "revoked_at FROM join_tokens ORDER BY created_at DESC, id");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  std::vector<JoinTokenRecord> records;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    JoinTokenRecord r;
    r.id = stmt.ColumnText(0);
    r.role = stmt.ColumnText(1);
    r.created_at = absl::FromUnixSeconds(stmt.ColumnInt(2));
    r.expires_at = absl::FromUnixSeconds(stmt.ColumnInt(3));
    r.uses = stmt.ColumnInt(4);
    r.max_uses = stmt.ColumnInt(5);
    r.revoked = !stmt.ColumnNull(6);
    records.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "cannot list", path_);
  return records;
}

absl::StatusOr<CertRole> JoinTokenStore::Redeem(const JoinToken& token,
                                                absl::string_view expected_role,
                                                absl::Time now) {
  absl::MutexLock lock(&mu_);
  Statement select(db_,
                   "SELECT role, secret_sha256, expires_at, uses, max_uses, "
                   "revoked_at FROM join_tokens WHERE id = ?");
  if (!select.ok()) return SqliteError(db_, "prepare", path_);
  select.Text(1, token.id);
  const int rc = select.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return SqliteError(db_, "cannot read the join token", path_);
  }
  const std::string presented = HashJoinSecret(token.secret);
  const std::string stored = rc == SQLITE_ROW ? select.ColumnText(1) : "";
  if (stored.size() != presented.size() ||
      CRYPTO_memcmp(stored.data(), presented.data(), stored.size()) != 0) {
    return Refused(token.id, "is not valid here (unknown id or wrong secret)");
  }
  if (!select.ColumnNull(5)) return Refused(token.id, "was revoked");
  const absl::Time expires_at = absl::FromUnixSeconds(select.ColumnInt(2));
  if (now >= expires_at) {
    return Refused(token.id,
                   absl::StrCat("expired at ", absl::FormatTime(expires_at)));
  }
  const int64_t max_uses = select.ColumnInt(4);
  if (max_uses > 0 && select.ColumnInt(3) >= max_uses) {
    return Refused(token.id,
                   absl::StrCat("has been used ", max_uses, " time",
                                max_uses == 1 ? "" : "s", ", its limit"));
  }
  const std::string role_name = select.ColumnText(0);
  if (!expected_role.empty() && expected_role != role_name) {
    return absl::PermissionDeniedError(absl::StrCat("join token ", token.id,
                                                    " is for a ", role_name,
                                                    ", not a ", expected_role));
  }
  ASSIGN_OR_RETURN(CertRole role, ParseCertRole(role_name));
  // The guard in WHERE keeps the limit even if another process redeemed
  // the token since the SELECT.
  Statement use(db_,
                "UPDATE join_tokens SET uses = uses + 1 WHERE id = ? AND "
                "(max_uses = 0 OR uses < max_uses)");
  if (!use.ok()) return SqliteError(db_, "prepare", path_);
  use.Text(1, token.id);
  if (use.Step() != SQLITE_DONE) {
    return SqliteError(db_, "cannot use the join token", path_);
  }
  if (sqlite3_changes(db_) != 1) return Refused(token.id, "is used up");
  return role;
}

}  // namespace shardex
