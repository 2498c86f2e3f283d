#include "coordinator/pki_sqlite.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace shardex {

absl::Status SqliteError(sqlite3* db, absl::string_view what,
                         const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " in ", path, ": ",
                   db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

absl::StatusOr<PrivateDb> OpenPrivateDb(const std::string& path,
                                        const char* schema) {
  // Create the file 0600 first: SQLite itself would use 0644.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot open", path);
  close(fd);
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  PrivateDb db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), "cannot open", path);
  sqlite3_busy_timeout(db.get(), 5000);
  if (sqlite3_exec(db.get(), schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db.get(), "cannot create the tables", path);
  }
  return db;
}

}  // namespace shardex
