#include "coordinator/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "coordinator/shard_batch_codec.h"
#include "glog/logging.h"

namespace shardex {

namespace {

// 1: jobs and shards. 2: jobs.attempts, the shard log of an ended job.
// 3: shard_batches, accepted shards many to a row (shard_batch_codec.h);
// `shards` rows of older files are still read. An older file is brought to
// the current version when opened.
constexpr int kSchemaVersion = 3;
constexpr int kBusyTimeoutMs = 5000;

// ----------------------------------------------------------------- errors


// `rc` as the closest absl code, with SQLite's own message and the file.
// Call right after the failing call: sqlite3_errmsg is the connection's
// most recent error.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what,
                         const std::string& path) {
  std::string msg =
      absl::StrCat(path, ": ", what, ": ",
                   db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(msg);
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// ------------------------------------------------------- SQLite handles

struct DbCloser {
  // close_v2: closes once the last statement is finalized, whatever the
  // order the owners go away in.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

absl::StatusOr<Stmt> Prepare(sqlite3* db, absl::string_view sql,
                             const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) {
    return SqliteError(db, rc, absl::StrCat("cannot prepare \"", sql, "\""),
                       path);
  }
  return stmt;
}

absl::Status Exec(sqlite3* db, const char* sql, const std::string& path) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, sql, path);
  return absl::OkStatus();
}

// Binds a statement's parameters in order, keeping the first failure (a
// blob over SQLite's size limit, say) for Run to report.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* stmt) : stmt_(stmt) {}

  Binder& Int(int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, ++index_, v);
    return *this;
  }
  Binder& Uint(uint64_t v) { return Int(static_cast<int64_t>(v)); }
  // The bytes are not copied: they must outlive the statement's Run.
  Binder& Blob(absl::string_view v) {
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_blob64(stmt_, ++index_, v.data(), v.size(),
                                SQLITE_STATIC);
    }
    return *this;
  }
  Binder& Text(absl::string_view v) {
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_text64(stmt_, ++index_, v.data(), v.size(),
                                SQLITE_STATIC, SQLITE_UTF8);
    }
    return *this;
  }

  sqlite3_stmt* stmt() const { return stmt_; }
  int rc() const { return rc_; }

 private:
  sqlite3_stmt* const stmt_;
  int index_ = 0;
  int rc_ = SQLITE_OK;
};

// Steps a bound statement that returns no rows, then resets it for reuse.
// `what` and `job_id` only go into an error message, built on failure.
absl::Status RunStatement(const Binder& bound, sqlite3* db,
                          absl::string_view what, uint64_t job_id,
                          const std::string& path) {
  sqlite3_stmt* stmt = bound.stmt();
  int rc = bound.rc();
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  absl::Status st;
  if (rc != SQLITE_DONE) {
    st = SqliteError(db, rc, absl::StrCat(what, " (job ", job_id, ")"), path);
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);  // no dangling SQLITE_STATIC pointers
  return st;
}

// A column's bytes; empty for NULL (SQLite returns no pointer for those or
// for empty blobs).
absl::string_view ColumnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(data), size);
}

// ---------------------------------------------------- state directory

// mkdir -p with mode 0700 (the state is the coordinator's alone), and a
// check that what is there is a directory.
absl::Status MakePrivateDirs(const std::string& dir) {
  if (absl::Status made = MakeDirs(dir, 0700, "state directory"); !made.ok()) {
    return made;
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    return ErrnoError("state directory: cannot stat", dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("state directory ", dir, " is not a directory"));
  }
  return absl::OkStatus();
}

// An exclusive lock on <dir>/LOCK for as long as the object lives. flock,
// not fcntl: fcntl locks belong to the process (a second open in the same
// process would pass, and closing any descriptor of the file drops them);
// flock locks belong to the open file description. O_CLOEXEC so children
// the coordinator starts do not inherit, and keep, the lock.
class DirLock {
 public:
  static absl::StatusOr<DirLock> Acquire(const std::string& dir) {
    const std::string path = dir + "/LOCK";
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError("cannot open", path);
    DirLock lock(fd);
    int rc;
    do {
      rc = flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state directory ", dir, " is in use by another coordinator (pid ",
          lock.HolderPid(), ")"));
    }
    if (rc != 0) return ErrnoError("cannot lock", path);
    // The pid is for people and for the message above; the lock is the
    // flock, which the kernel drops however the holder dies.
    const std::string pid = absl::StrCat(getpid(), "\n");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
      return ErrnoError("cannot write", path);
    }
    return lock;
  }

  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}

  // What the holder wrote into LOCK; "unknown" in the instant between its
  // flock and its write.
  std::string HolderPid() const {
    char buf[32];
    const ssize_t n = pread(fd_, buf, sizeof(buf), 0);
    int64_t pid = 0;
    if (n > 0 && absl::SimpleAtoi(absl::string_view(buf, n), &pid)) {
      return absl::StrCat(pid);
    }
    return "unknown";
  }

  int fd_;
};

// ------------------------------------------------------------ database

// Opens `path` and brings its schema to kSchemaVersion: creates it in a new
// file, migrates an older one, refuses a version this code does not know.
absl::Status PrepareSchema(sqlite3* db, const std::string& path) {
  RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", path));
  absl::Status st = [&]() -> absl::Status {
    RETURN_IF_ERROR(Exec(db,
                         "CREATE TABLE IF NOT EXISTS meta("
                         "key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID",
                         path));
    ASSIGN_OR_RETURN(
        Stmt version,
        Prepare(db, "SELECT value FROM meta WHERE key = 'schema_version'",
                path));
    const int rc = sqlite3_step(version.get());
    int64_t found = kSchemaVersion;  // of the file; a new one is current
    if (rc == SQLITE_ROW) {
      const int type = sqlite3_column_type(version.get(), 0);
      found = type == SQLITE_INTEGER ? sqlite3_column_int64(version.get(), 0)
                                     : -1;
      if (found < 1 || found > kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " has schema version ", ColumnBytes(version.get(), 0),
            "; this coordinator knows versions 1 to ", kSchemaVersion,
            " (was it written by a newer shardex?)"));
      }
    } else if (rc == SQLITE_DONE) {
      const std::string insert =
          absl::StrCat("INSERT INTO meta(key, value) VALUES('schema_version', ",
                       kSchemaVersion, ")");
      RETURN_IF_ERROR(Exec(db, insert.c_str(), path));
    } else {
      return SqliteError(db, rc, "cannot read the schema version", path);
    }
    version.reset();
    // `final` is the serialized JobStatus once the job ended, else NULL;
    // `attempts` its shard log then (AttemptLog::Serialize).
    RETURN_IF_ERROR(Exec(db,
                         "CREATE TABLE IF NOT EXISTS jobs("
                         "id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, "
                         "spec BLOB NOT NULL, submit_ms INTEGER NOT NULL, "
                         "final BLOB, attempts BLOB)",
                         path));
    if (found < 2) {
      RETURN_IF_ERROR(Exec(db, "ALTER TABLE jobs ADD COLUMN attempts BLOB",
                           path));
    }
    // One row per shard: what versions 1 and 2 wrote, and kShardAccepted.
    RETURN_IF_ERROR(Exec(db,
                         "CREATE TABLE IF NOT EXISTS shards("
                         "job_id INTEGER, shard INTEGER, "
                         "payload BLOB NOT NULL, "
                         "PRIMARY KEY(job_id, shard))",
                         path));
    // Version 3: many shards to a row. The rowid orders a job's batches as
    // they were written (a job's rows all go at once, so no rowid is
    // reused among them); the index serves the deletes at a job's end.
    RETURN_IF_ERROR(Exec(db,
                         "CREATE TABLE IF NOT EXISTS shard_batches("
                         "seq INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, "
                         "data BLOB NOT NULL)",
                         path));
    RETURN_IF_ERROR(Exec(db,
                         "CREATE INDEX IF NOT EXISTS shard_batches_by_job "
                         "ON shard_batches(job_id)",
                         path));
    if (found < kSchemaVersion) {
      const std::string update = absl::StrCat(
          "UPDATE meta SET value = ", kSchemaVersion,
          " WHERE key = 'schema_version'");
      RETURN_IF_ERROR(Exec(db, update.c_str(), path));
    }
    return Exec(db, "COMMIT", path);
  }();
  if (!st.ok() && !sqlite3_get_autocommit(db)) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return st;
}

absl::StatusOr<Db> OpenDatabase(const std::string& path) {
  sqlite3* raw = nullptr;
  // NOMUTEX: SqliteJournal serializes use of the connection itself.
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  Db db(raw);  // closed on every return below; raw may be set on failure
  if (rc != SQLITE_OK) return SqliteError(raw, rc, "cannot open", path);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

  // The first statement that reads the file: a file that is not a
  // database fails here (SQLITE_NOTADB).
  ASSIGN_OR_RETURN(Stmt wal,
                   Prepare(db.get(), "PRAGMA journal_mode=WAL", path));
  const int step = sqlite3_step(wal.get());
  if (step != SQLITE_ROW) {
    return SqliteError(db.get(), step, "cannot set journal_mode=WAL", path);
  }
  const std::string mode(ColumnBytes(wal.get(), 0));
  if (!absl::EqualsIgnoreCase(mode, "wal")) {
    // Still durable with synchronous=FULL, only slower; e.g. a file system
    // without shared memory.
    LOG(WARNING) << path << ": journal_mode is " << mode << ", not wal";
  }
  wal.reset();
  RETURN_IF_ERROR(Exec(db.get(), "PRAGMA synchronous=FULL", path));
  RETURN_IF_ERROR(PrepareSchema(db.get(), path));
  return db;
}

// ------------------------------------------------------------- journal

// The writer's statements, prepared once and reused for every record.
struct Statements {
  Stmt begin;
  Stmt commit;
  Stmt rollback;
  Stmt insert_job;
  Stmt put_shard;
  Stmt put_batch;
  Stmt end_job;
  Stmt drop_shards;
  Stmt drop_batches;
  Stmt forget_job;
};

absl::StatusOr<Statements> PrepareStatements(sqlite3* db,
                                             const std::string& path) {
  Statements s;
  ASSIGN_OR_RETURN(s.begin, Prepare(db, "BEGIN IMMEDIATE", path));
  ASSIGN_OR_RETURN(s.commit, Prepare(db, "COMMIT", path));
  ASSIGN_OR_RETURN(s.rollback, Prepare(db, "ROLLBACK", path));
  ASSIGN_OR_RETURN(s.insert_job,
                   Prepare(db,
                           "INSERT INTO jobs(id, request_id, spec, submit_ms) "
                           "VALUES(?, ?, ?, ?)",
                           path));
  ASSIGN_OR_RETURN(s.put_shard,
                   Prepare(db,
                           "INSERT OR REPLACE INTO shards(job_id, shard, "
                           "payload) VALUES(?, ?, ?)",
                           path));
  ASSIGN_OR_RETURN(s.put_batch,
                   Prepare(db,
                           "INSERT INTO shard_batches(job_id, data) "
                           "VALUES(?, ?)",
                           path));
  ASSIGN_OR_RETURN(s.end_job,
                   Prepare(db,
                           "UPDATE jobs SET final = ?, attempts = ? "
                           "WHERE id = ?",
                           path));
  ASSIGN_OR_RETURN(s.drop_shards,
                   Prepare(db, "DELETE FROM shards WHERE job_id = ?", path));
  ASSIGN_OR_RETURN(
      s.drop_batches,
      Prepare(db, "DELETE FROM shard_batches WHERE job_id = ?", path));
  ASSIGN_OR_RETURN(s.forget_job,
                   Prepare(db, "DELETE FROM jobs WHERE id = ?", path));
  return s;
}

// Records flow: Append -> queue_ -> the writer thread swaps the whole queue
// out and commits it as one transaction -> committed_seq_ -> Sync returns.
// Sequence numbers count Append calls.
class SqliteJournal final : public Journal {
 public:
  SqliteJournal(std::string path, DirLock lock, Db db, Statements statements,
                JournalOptions options)
      : path_(std::move(path)),
        commit_window_(options.commit_window),
        lock_(std::move(lock)),
        db_(std::move(db)),
        stmts_(std::move(statements)) {
    writer_ = std::thread([this] { WriterLoop(); });
  }

  // Commits what is queued, then closes the database and drops the lock.
  ~SqliteJournal() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    writer_.join();
    absl::MutexLock lock(&mu_);
    if (!write_error_.ok()) LOG(ERROR) << "journal: " << write_error_;
  }

  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;

  absl::StatusOr<std::vector<JournaledJob>> Load() override;
  void Append(std::vector<JournalRecord> records) override;
  absl::Status Sync() override;

 private:
  void WriterLoop();
  absl::Status WriteBatch(const std::vector<std::vector<JournalRecord>>& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  absl::Status WriteRecord(const JournalRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Drops a job's accepted shards, both kinds of rows.
  absl::Status DropShards(uint64_t job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  absl::Status Run(const Binder& bound, absl::string_view what, uint64_t job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) {
    return RunStatement(bound, db_.get(), what, job_id, path_);
  }

  // Constant after construction.
  const std::string path_;  // of state.db
  const absl::Duration commit_window_;
  // Declared first so it is released last, after the database is closed.
  const DirLock lock_;

  // The connection, used by the writer thread and by Load. Never held
  // together with mu_, so appenders never wait for the disk.
  absl::Mutex db_mu_;
  Db db_ ABSL_GUARDED_BY(db_mu_);
  Statements stmts_ ABSL_GUARDED_BY(db_mu_);  // finalized before db_ closes

  // State below is protected by mu_.
  absl::Mutex mu_;
  // One entry per Append: queuing moves a vector, never its records (a
  // JournalRecord is ~100 bytes).
  std::vector<std::vector<JournalRecord>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t appended_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t committed_seq_ ABSL_GUARDED_BY(mu_) = 0;  // written, or dropped
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);    // the first; sticky
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int sync_waiters_ ABSL_GUARDED_BY(mu_) = 0;  // Syncs waiting now

  std::thread writer_;  // started last, in the constructor
};

absl::StatusOr<std::vector<JournaledJob>> SqliteJournal::Load() {
  // Holding db_mu_ keeps the writer out, so the two queries see one state
  // (no other process writes: we hold LOCK). Prepared here, not once: Load
  // runs once.
  absl::MutexLock lock(&db_mu_);
  sqlite3* db = db_.get();
  std::vector<JournaledJob> jobs;
  absl::flat_hash_map<uint64_t, size_t> unfinished;  // job id -> index

  ASSIGN_OR_RETURN(Stmt job_rows,
                   Prepare(db,
                           "SELECT id, request_id, spec, submit_ms, final, "
                           "attempts "
                           "FROM jobs ORDER BY id",
                           path_));
  int rc;
  while ((rc = sqlite3_step(job_rows.get())) == SQLITE_ROW) {
    sqlite3_stmt* row = job_rows.get();
    JournaledJob job;
    job.id = static_cast<uint64_t>(sqlite3_column_int64(row, 0));
    job.request_id = std::string(ColumnBytes(row, 1));
    const absl::string_view spec = ColumnBytes(row, 2);
    if (!job.spec.ParseFromArray(spec.data(), spec.size())) {
      return absl::DataLossError(absl::StrCat(
          path_, ": job ", job.id, ": the stored spec does not parse"));
    }
    job.submit_unix_ms = sqlite3_column_int64(row, 3);
    if (sqlite3_column_type(row, 4) != SQLITE_NULL) {
      job.ended = true;
      const absl::string_view status = ColumnBytes(row, 4);
      if (!job.final_status.ParseFromArray(status.data(), status.size())) {
        return absl::DataLossError(
            absl::StrCat(path_, ": job ", job.id,
                         ": the stored final status does not parse"));
      }
      job.attempts = std::string(ColumnBytes(row, 5));
    } else {
      unfinished[job.id] = jobs.size();
    }
    jobs.push_back(std::move(job));
  }
  if (rc != SQLITE_DONE) return SqliteError(db, rc, "cannot read jobs", path_);

  // Rows of one shard each first (older files, kShardAccepted), then
  // batches as written; Load sorts each job's shards at the end.
  ASSIGN_OR_RETURN(Stmt shard_rows,
                   Prepare(db,
                           "SELECT job_id, shard, payload FROM shards "
                           "ORDER BY job_id, shard",
                           path_));
  while ((rc = sqlite3_step(shard_rows.get())) == SQLITE_ROW) {
    sqlite3_stmt* row = shard_rows.get();
    const auto it =
        unfinished.find(static_cast<uint64_t>(sqlite3_column_int64(row, 0)));
    if (it == unfinished.end()) continue;  // no such job, or it ended
    jobs[it->second].accepted.emplace_back(
        static_cast<uint64_t>(sqlite3_column_int64(row, 1)),
        std::string(ColumnBytes(row, 2)));
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(db, rc, "cannot read shards", path_);
  }

  ASSIGN_OR_RETURN(Stmt batch_rows,
                   Prepare(db,
                           "SELECT job_id, data FROM shard_batches "
                           "ORDER BY seq",
                           path_));
  while ((rc = sqlite3_step(batch_rows.get())) == SQLITE_ROW) {
    sqlite3_stmt* row = batch_rows.get();
    const uint64_t job_id = static_cast<uint64_t>(sqlite3_column_int64(row, 0));
    const auto it = unfinished.find(job_id);
    if (it == unfinished.end()) continue;  // no such job, or it ended
    if (absl::Status st =
            DecodeShardBatch(ColumnBytes(row, 1), &jobs[it->second].accepted);
        !st.ok()) {
      return absl::DataLossError(
          absl::StrCat(path_, ": job ", job_id, ": ", st.message()));
    }
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(db, rc, "cannot read shard batches", path_);
  }

  // By shard. Of a shard journaled twice (the scheduler does not; a
  // database edited by hand might), the later record wins, as it does in
  // `shards` (INSERT OR REPLACE): a stable sort keeps the written order
  // among equals, and the last of each run is kept.
  using Accepted = std::pair<uint64_t, std::string>;
  for (const auto& [id, index] : unfinished) {
    std::vector<Accepted>& accepted = jobs[index].accepted;
    const bool ascending =
        std::adjacent_find(accepted.begin(), accepted.end(),
                           [](const Accepted& a, const Accepted& b) {
                             return a.first >= b.first;
                           }) == accepted.end();
    if (ascending) continue;  // already by shard, each once
    std::stable_sort(accepted.begin(), accepted.end(),
                     [](const Accepted& a, const Accepted& b) {
                       return a.first < b.first;
                     });
    size_t kept = 0;
    for (size_t i = 0; i < accepted.size(); ++i) {
      if (i + 1 < accepted.size() &&
          accepted[i + 1].first == accepted[i].first) {
        continue;  // a later record of the shard follows
      }
      if (kept != i) accepted[kept] = std::move(accepted[i]);
      ++kept;
    }
    accepted.resize(kept);
  }
  return jobs;
}

void SqliteJournal::Append(std::vector<JournalRecord> records) {
  if (records.empty()) return;
  absl::MutexLock lock(&mu_);
  if (!write_error_.ok()) return;  // the writer would drop them
  queue_.push_back(std::move(records));
  ++appended_seq_;
}

absl::Status SqliteJournal::Sync() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = appended_seq_;
  auto committed = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return committed_seq_ >= target;
  };
  ++sync_waiters_;  // the writer stops gathering (WriterLoop)
  mu_.Await(absl::Condition(&committed));
  --sync_waiters_;
  return write_error_;
}

void SqliteJournal::WriterLoop() {
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  };
  while (true) {
    std::vector<std::vector<JournalRecord>> batch;
    uint64_t batch_seq;
    bool failed;
    {
      absl::MutexLock lock(&mu_, absl::Condition(&has_work));
      if (queue_.empty()) return;  // stopping and drained
      // Gathers what else comes within the window into this transaction,
      // unless someone waits for it (a Sync) or the journal closes.
      auto hurry = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || sync_waiters_ > 0;
      };
      if (commit_window_ > absl::ZeroDuration() && !hurry()) {
        mu_.AwaitWithTimeout(absl::Condition(&hurry), commit_window_);
      }
      batch.swap(queue_);
      batch_seq = appended_seq_;
      failed = !write_error_.ok();
    }
    // After a failed batch, later ones are dropped rather than written:
    // the database stays a prefix of what was appended, never a state with
    // a hole in it (say, a job's end without the shards before it).
    absl::Status st;
    if (!failed) {
      absl::MutexLock lock(&db_mu_);
      st = WriteBatch(batch);
    }
    batch.clear();  // frees the records outside mu_
    absl::MutexLock lock(&mu_);
    if (!st.ok() && write_error_.ok()) write_error_ = st;
    committed_seq_ = batch_seq;
  }
}

absl::Status SqliteJournal::WriteBatch(
    const std::vector<std::vector<JournalRecord>>& batch) {
  RETURN_IF_ERROR(Run(Binder(stmts_.begin.get()), "begin", 0));
  absl::Status st;
  for (const std::vector<JournalRecord>& records : batch) {
    for (const JournalRecord& record : records) {
      st = WriteRecord(record);
      if (!st.ok()) break;
    }
    if (!st.ok()) break;
  }
  if (st.ok()) st = Run(Binder(stmts_.commit.get()), "commit", 0);
  // A failed COMMIT may leave the transaction open (SQLITE_BUSY) or have
  // rolled it back already (I/O errors).
  if (!st.ok() && !sqlite3_get_autocommit(db_.get())) {
    Run(Binder(stmts_.rollback.get()), "rollback", 0).IgnoreError();
  }
  return st;
}

absl::Status SqliteJournal::WriteRecord(const JournalRecord& r) {
  switch (r.kind) {
    case JournalRecord::Kind::kJobCreated: {
      return Run(Binder(stmts_.insert_job.get())
                     .Uint(r.job_id)
                     .Text(r.request_id)
                     .Blob(r.data)
                     .Int(r.submit_unix_ms),
                 "cannot insert job", r.job_id);
    }
    case JournalRecord::Kind::kShardsAccepted:
      if (r.data.empty()) return absl::OkStatus();  // no shards
      return Run(Binder(stmts_.put_batch.get()).Uint(r.job_id).Blob(r.data),
                 "cannot store accepted shards", r.job_id);
    case JournalRecord::Kind::kShardAccepted:
      return Run(Binder(stmts_.put_shard.get())
                     .Uint(r.job_id)
                     .Uint(r.shard)
                     .Blob(r.data),
                 "cannot store shard payload", r.job_id);
    case JournalRecord::Kind::kJobEnded: {
      // An unknown job updates no row; nothing to resume either way.
      RETURN_IF_ERROR(
          Run(Binder(stmts_.end_job.get())
                  .Blob(r.data)
                  .Blob(r.attempts)
                  .Uint(r.job_id),
              "cannot end job", r.job_id));
      return DropShards(r.job_id);
    }
    case JournalRecord::Kind::kJobForgotten:
      RETURN_IF_ERROR(Run(Binder(stmts_.forget_job.get()).Uint(r.job_id),
                          "cannot forget job", r.job_id));
      return DropShards(r.job_id);
  }
  return absl::InternalError(absl::StrCat("journal record of unknown kind ",
                                          static_cast<int>(r.kind)));
}

absl::Status SqliteJournal::DropShards(uint64_t job_id) {
  RETURN_IF_ERROR(Run(Binder(stmts_.drop_shards.get()).Uint(job_id),
                      "cannot drop shard payloads", job_id));
  return Run(Binder(stmts_.drop_batches.get()).Uint(job_id),
             "cannot drop shard batches", job_id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Journal>> OpenSqliteJournal(
    const std::string& state_dir, JournalOptions options) {
  if (state_dir.empty()) {
    return absl::InvalidArgumentError("state directory: empty path");
  }
  RETURN_IF_ERROR(MakePrivateDirs(state_dir));
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(state_dir));
  const std::string path = state_dir + "/state.db";
  ASSIGN_OR_RETURN(Db db, OpenDatabase(path));
  ASSIGN_OR_RETURN(Statements statements, PrepareStatements(db.get(), path));
  return std::unique_ptr<Journal>(new SqliteJournal(path, std::move(lock),
                                                    std::move(db),
                                                    std::move(statements),
                                                    options));
}


}  // namespace shardex
