#include "coordinator/cert_registry.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

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

absl::Status SqliteError(sqlite3* db, absl::string_view what,
                         const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " in ", path, ": ", sqlite3_errmsg(db)));
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& Text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string ColumnText(int i) const {
    const unsigned char* text = sqlite3_column_text(stmt_, i);
    return text == nullptr ? "" : reinterpret_cast<const char*>(text);
  }
  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool ColumnNull(int i) const {
    return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string NormalSerial(const std::string& serial_hex) {
  return absl::AsciiStrToUpper(serial_hex);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertRegistry>> CertRegistry::Open(
    const std::string& path) {
  // Create the file 0600 before SQLite does (it would use 0644).
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot open", path);
  close(fd);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    absl::Status st = SqliteError(db, "cannot open the registry", path);
    sqlite3_close_v2(db);
    return st;
  }
  // The coordinator and the CLI may write at the same moment.
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    absl::Status st = SqliteError(db, "cannot create the registry", path);
    sqlite3_close_v2(db);
    return st;
  }
  return std::unique_ptr<CertRegistry>(new CertRegistry(db, path));
}

CertRegistry::CertRegistry(sqlite3* db, std::string path)
    : path_(std::move(path)), db_(db) {}

CertRegistry::~CertRegistry() { sqlite3_close_v2(db_); }

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
    return absl::NotFoundError(absl::StrCat(
        "this coordinator issued no certificate with serial ", serial_hex,
        " (see: shardex cert list)"));
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
