#include "coordinator/cert_registry.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace shardex {

namespace {

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS issued ("
    "  serial TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  issued_at INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  revoked_at INTEGER)";

std::string NormalSerial(const std::string& serial_hex) {
  return absl::AsciiStrToUpper(serial_hex);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertRegistry>> CertRegistry::Open(
    const std::string& path) {
  absl::StatusOr<PrivateDb> db = OpenPrivateDb(path, kSchema);
  if (!db.ok()) return db.status();
  return std::unique_ptr<CertRegistry>(new CertRegistry(*std::move(db), path));
}

CertRegistry::CertRegistry(PrivateDb db, std::string path)
    : path_(std::move(path)), owned_db_(std::move(db)), db_(owned_db_.get()) {}

CertRegistry::~CertRegistry() = default;

absl::Status CertRegistry::Record(const IssuedCert& cert) {
  absl::MutexLock lock(&mu_);
  Statement stmt(db_,
                 "INSERT INTO issued (serial, role, name, issued_at, "
                 "not_after) VALUES (?, ?, ?, ?, ?)");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  stmt.Text(1, NormalSerial(cert.serial_hex))
      .Text(2, cert.role)
      .Text(3, cert.name)
      .Int(4, absl::ToUnixSeconds(cert.issued_at))
      .Int(5, absl::ToUnixSeconds(cert.not_after));
  if (stmt.Step() != SQLITE_DONE) {
    return SqliteError(db_, "cannot record a certificate", path_);
  }
  return absl::OkStatus();
}

absl::Status CertRegistry::Revoke(const std::string& serial_hex,
                                  absl::Time now) {
  absl::MutexLock lock(&mu_);
  Statement stmt(db_,
                 "UPDATE issued SET revoked_at = COALESCE(revoked_at, ?) "
                 "WHERE serial = ?");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  stmt.Int(1, absl::ToUnixSeconds(now)).Text(2, NormalSerial(serial_hex));
  if (stmt.Step() != SQLITE_DONE) {
    return SqliteError(db_, "cannot revoke a certificate", path_);
  }
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(
        absl::StrCat("this coordinator issued no certificate with serial ",
                     serial_hex, " (see: shardex cert list)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CertRegistry::IsRevoked(const std::string& serial_hex) {
  absl::MutexLock lock(&mu_);
  Statement stmt(db_, "SELECT revoked_at FROM issued WHERE serial = ?");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  stmt.Text(1, NormalSerial(serial_hex));
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return false;
  if (rc != SQLITE_ROW) return SqliteError(db_, "cannot read", path_);
  return !stmt.ColumnNull(0);
}

absl::StatusOr<std::vector<IssuedCert>> CertRegistry::List() {
  absl::MutexLock lock(&mu_);
  Statement stmt(db_,
                 "SELECT serial, role, name, issued_at, not_after, "
                 "revoked_at FROM issued ORDER BY issued_at DESC, serial");
  if (!stmt.ok()) return SqliteError(db_, "prepare", path_);
  std::vector<IssuedCert> certs;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    IssuedCert c;
    c.serial_hex = stmt.ColumnText(0);
    c.role = stmt.ColumnText(1);
    c.name = stmt.ColumnText(2);
    c.issued_at = absl::FromUnixSeconds(stmt.ColumnInt(3));
    c.not_after = absl::FromUnixSeconds(stmt.ColumnInt(4));
    c.revoked = !stmt.ColumnNull(5);
    certs.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "cannot list", path_);
  return certs;
}

}  // namespace shardex
