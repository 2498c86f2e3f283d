// The small SQLite layer under the built-in CA's two stores (CertRegistry,
// JoinTokenStore): opening a private database file that another process
// (the `shardex` CLI on the coordinator's host) may write at the same
// time, and a prepared-statement wrapper.
//
// Thread-safety: a PrivateDb is used under its owner's mutex; Statement is
// single-threaded.
#ifndef SHARDEX_COORDINATOR_PKI_SQLITE_H_
#define SHARDEX_COORDINATOR_PKI_SQLITE_H_

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using PrivateDb = std::unique_ptr<sqlite3, SqliteCloser>;

// Opens or creates `path` (mode 0600, created so before SQLite sees it),
// with a busy timeout so the coordinator and the CLI can both write, and
// runs `schema` (CREATE TABLE IF NOT EXISTS ...).
absl::StatusOr<PrivateDb> OpenPrivateDb(const std::string& path,
                                        const char* schema);

// "<what> in <path>: <sqlite's message>".
absl::Status SqliteError(sqlite3* db, absl::string_view what,
                         const std::string& path);

// A prepared statement, finalized on scope exit. Bind errors surface at
// Step.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& Text(int i, absl::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& Null(int i) {
    sqlite3_bind_null(stmt_, i);
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

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_PKI_SQLITE_H_
