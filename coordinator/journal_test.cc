#include "coordinator/journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "coordinator/shard_batch_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

// A fresh directory path (not created) under TEST_TMPDIR, per test.
std::string NewStateDir(const std::string& tail = "state") {
  static std::atomic<int> counter{0};
  const char* tmp = getenv("TEST_TMPDIR");
  const ::testing::TestInfo* test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", test->name(), "-",
                      counter++, "/", tail);
}

std::unique_ptr<Journal> MustOpen(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<Journal>> journal = OpenSqliteJournal(dir);
  if (!journal.ok()) {
    ADD_FAILURE() << journal.status();
    return nullptr;
  }
  return std::move(journal).value();
}

std::vector<JournaledJob> MustLoad(const std::string& dir) {
  std::unique_ptr<Journal> journal = MustOpen(dir);
  if (journal == nullptr) return {};
  absl::StatusOr<std::vector<JournaledJob>> jobs = journal->Load();
  if (!jobs.ok()) {
    ADD_FAILURE() << jobs.status();
    return {};
  }
  return std::move(jobs).value();
}

JournalRecord JobCreated(uint64_t id, std::string request_id, uint64_t shards) {
  JournalRecord r;
  r.kind = JournalRecord::Kind::kJobCreated;
  r.job_id = id;
  r.request_id = std::move(request_id);
  v1::JobSpec spec;
  spec.set_kernel("pi");
  (*spec.mutable_args())["samples"] = "1000";
  spec.set_shards(shards);
  r.data = spec.SerializeAsString();
  r.submit_unix_ms = 1700000000000 + id;
  return r;
}

JournalRecord ShardAccepted(uint64_t job_id, uint64_t shard,
                            std::string payload) {
  JournalRecord r;
  r.kind = JournalRecord::Kind::kShardAccepted;
  r.job_id = job_id;
  r.shard = shard;
  r.data = std::move(payload);
  return r;
}

// A kShardsAccepted record of `shards`, as the scheduler builds one per
// job per result batch.
JournalRecord ShardsAccepted(
    uint64_t job_id,
    const std::vector<std::pair<uint64_t, std::string>>& shards) {
  JournalRecord r;
  r.kind = JournalRecord::Kind::kShardsAccepted;
  r.job_id = job_id;
  for (const auto& [shard, payload] : shards) {
    AppendShardEntry(shard, payload, &r.data);
  }
  return r;
}

JournalRecord JobEnded(uint64_t job_id, const std::string& answer) {
  JournalRecord r;
  r.kind = JournalRecord::Kind::kJobEnded;
  r.job_id = job_id;
  v1::JobStatus status;
  status.set_job_id(job_id);
  status.set_state(v1::JOB_SUCCEEDED);
  status.mutable_result()->set_value(answer);
  r.data = status.SerializeAsString();
  return r;
}

std::vector<JournalRecord> One(JournalRecord r) {
  std::vector<JournalRecord> records;
  records.push_back(std::move(r));
  return records;
}

// Runs `sql` on state.db through a connection of its own, as another
// program would.
void ExecSql(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/state.db").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The single integer `sql` selects, read through a connection of its own.
int64_t QueryInt(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_open_v2((dir + "/state.db").c_str(), &db, SQLITE_OPEN_READONLY,
                      nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  } else {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Opening `dir` works, but loading it is DATA_LOSS naming `what` (a job).
void ExpectLoadIsDataLossNaming(const std::string& dir,
                                const std::string& what) {
  std::unique_ptr<Journal> journal = MustOpen(dir);
  ASSERT_NE(journal, nullptr);
  absl::StatusOr<std::vector<JournaledJob>> jobs = journal->Load();
  ASSERT_FALSE(jobs.ok());
  EXPECT_EQ(jobs.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(jobs.status().message()), HasSubstr(what));
}

// ------------------------------------------------------------ round trip

TEST(JournalTest, ReopenedJournalResumesUnfinishedJobs) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->Load().value().empty());
    std::vector<JournalRecord> records;
    records.push_back(JobCreated(1, "req-1", 4));
    records.push_back(JobCreated(2, "req-2", 3));
    records.push_back(JobCreated(3, "req-3", 2));
    journal->Append(std::move(records));
    ASSERT_TRUE(journal->Sync().ok());
    // Out of order, and one shard accepted twice: the last payload wins.
    journal->Append(One(ShardAccepted(1, 2, "one-two")));
    journal->Append(One(ShardAccepted(1, 0, "one-zero")));
    journal->Append(One(ShardAccepted(1, 2, "one-two-again")));
    journal->Append(One(ShardAccepted(2, 1, "two-one")));
    journal->Append(One(ShardAccepted(3, 0, "three-zero")));
    journal->Append(One(JobEnded(2, "42")));
    // Destroyed without Sync: the destructor commits what is queued.
  }
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards WHERE job_id = 2"), 0);

  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].id, 1u);
  EXPECT_EQ(jobs[0].request_id, "req-1");
  EXPECT_EQ(jobs[0].spec.kernel(), "pi");
  EXPECT_EQ(jobs[0].spec.args().at("samples"), "1000");
  EXPECT_EQ(jobs[0].spec.shards(), 4u);
  EXPECT_EQ(jobs[0].submit_unix_ms, 1700000000001);
  EXPECT_FALSE(jobs[0].ended);
  EXPECT_EQ(jobs[0].accepted, (std::vector<std::pair<uint64_t, std::string>>{
                                  {0, "one-zero"}, {2, "one-two-again"}}));

  EXPECT_EQ(jobs[1].id, 2u);
  EXPECT_TRUE(jobs[1].ended);
  EXPECT_EQ(jobs[1].final_status.state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(jobs[1].final_status.result().value(), "42");
  EXPECT_TRUE(jobs[1].accepted.empty());

  EXPECT_EQ(jobs[2].id, 3u);
  EXPECT_FALSE(jobs[2].ended);
  EXPECT_EQ(jobs[2].accepted,
            (std::vector<std::pair<uint64_t, std::string>>{{0, "three-zero"}}));
}

TEST(JournalTest, JobCreatedAndEndedInOneBatch) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    std::vector<JournalRecord> records;
    records.push_back(JobCreated(7, "r", 2));
    records.push_back(ShardAccepted(7, 0, "a"));
    records.push_back(ShardAccepted(7, 1, "b"));
    records.push_back(JobEnded(7, "ab"));
    journal->Append(std::move(records));
    ASSERT_TRUE(journal->Sync().ok());
  }
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs[0].ended);
  EXPECT_EQ(jobs[0].final_status.result().value(), "ab");
  EXPECT_TRUE(jobs[0].accepted.empty());
}

TEST(JournalTest, ForgottenJobLeavesNoRows) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "req-1", 2)));
    journal->Append(One(JobCreated(2, "req-2", 2)));
    journal->Append(One(ShardAccepted(1, 0, "x")));
    journal->Append(One(JobEnded(1, "7")));
    JournalRecord forget;
    forget.kind = JournalRecord::Kind::kJobForgotten;
    forget.job_id = 1;
    journal->Append(One(std::move(forget)));
    ASSERT_TRUE(journal->Sync().ok());
  }
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM jobs WHERE id = 1"), 0);
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards WHERE job_id = 1"), 0);
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, 2u);
}

TEST(JournalTest, PayloadsAreBytesOfAnySize) {
  const std::string dir = NewStateDir();
  const std::string with_nuls("a\0b\0\0c\xff", 7);
  std::string large(1 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7);
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    std::vector<JournalRecord> records;
    records.push_back(JobCreated(1, std::string("req\0id", 6), 3));
    records.push_back(ShardAccepted(1, 0, with_nuls));
    records.push_back(ShardAccepted(1, 1, large));
    records.push_back(ShardAccepted(1, 2, ""));
    journal->Append(std::move(records));
    ASSERT_TRUE(journal->Sync().ok());
  }
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].request_id, std::string("req\0id", 6));
  ASSERT_EQ(jobs[0].accepted.size(), 3u);
  EXPECT_EQ(jobs[0].accepted[0].second, with_nuls);
  EXPECT_TRUE(jobs[0].accepted[1].second == large);  // no 1 MiB diff on failure
  EXPECT_EQ(jobs[0].accepted[2].second, "");
}

// A journal at `dir` with an hour's commit window, holding job 1 appended
// and not synced.
std::unique_ptr<Journal> OpenWithOneJobWaiting(const std::string& dir) {
  JournalOptions options;
  options.commit_window = absl::Hours(1);
  absl::StatusOr<std::unique_ptr<Journal>> journal =
      OpenSqliteJournal(dir, options);
  if (!journal.ok()) {
    ADD_FAILURE() << journal.status();
    return nullptr;
  }
  std::vector<JournalRecord> records;
  records.push_back(JobCreated(1, "req-1", 4));
  (*journal)->Append(std::move(records));
  return std::move(journal).value();
}

TEST(JournalTest, RecordsWaitOutTheCommitWindowUnlessSynced) {
  const std::string dir = NewStateDir();
  std::unique_ptr<Journal> journal = OpenWithOneJobWaiting(dir);
  ASSERT_NE(journal, nullptr);
  // Without a window the writer commits within a millisecond or so; with
  // an hour's window the record is still waiting for company.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(QueryInt(dir, "SELECT COUNT(*) FROM jobs"), 0);
  // A Sync does not wait out the window (else this would hang).
  ASSERT_TRUE(journal->Sync().ok());
  EXPECT_EQ(QueryInt(dir, "SELECT COUNT(*) FROM jobs"), 1);
}

TEST(JournalTest, ClosingCommitsWithoutWaitingOutTheWindow) {
  const std::string dir = NewStateDir();
  ASSERT_NE(OpenWithOneJobWaiting(dir), nullptr);  // destroyed: commits
  EXPECT_EQ(QueryInt(dir, "SELECT COUNT(*) FROM jobs"), 1);
}

TEST(JournalTest, SyncReturnsOnceRecordsAreCommitted) {
  const std::string dir = NewStateDir();
  std::unique_ptr<Journal> journal = MustOpen(dir);
  ASSERT_NE(journal, nullptr);
  journal->Append(One(JobCreated(5, "r5", 1)));
  journal->Append(One(ShardAccepted(5, 0, "p")));
  ASSERT_TRUE(journal->Sync().ok());
  // Another connection sees both while the journal is still open.
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM jobs WHERE id = 5"), 1);
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards WHERE job_id = 5"), 1);
  EXPECT_TRUE(journal->Sync().ok());  // nothing new: returns at once
  journal.reset();

  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].accepted.size(), 1u);
}

TEST(JournalTest, ManyShardRecords) {
  constexpr int kBatches = 1000;
  constexpr int kPerBatch = 100;
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "big", kBatches * kPerBatch)));
    for (int b = 0; b < kBatches; ++b) {
      std::vector<JournalRecord> records;
      for (int i = 0; i < kPerBatch; ++i) {
        const int shard = b * kPerBatch + i;
        records.push_back(ShardAccepted(1, shard, absl::StrCat(shard)));
      }
      journal->Append(std::move(records));
    }
    ASSERT_TRUE(journal->Sync().ok());
    EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards"),
              kBatches * kPerBatch);
  }
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_EQ(jobs[0].accepted.size(), size_t{kBatches * kPerBatch});
  for (size_t i = 0; i < jobs[0].accepted.size(); ++i) {
    ASSERT_EQ(jobs[0].accepted[i].first, i);
    ASSERT_EQ(jobs[0].accepted[i].second, absl::StrCat(i));
  }
}

TEST(JournalTest, ConcurrentAppendersAndSyncs) {
  constexpr int kThreads = 8;
  constexpr int kShardsEach = 500;
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "r", kThreads * kShardsEach)));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&journal, t] {
        for (int i = 0; i < kShardsEach; ++i) {
          const int shard = t * kShardsEach + i;
          journal->Append(One(ShardAccepted(1, shard, "x")));
          if (i % 50 == 0) {
            EXPECT_TRUE(journal->Sync().ok());
          }
        }
        EXPECT_TRUE(journal->Sync().ok());
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards"),
              kThreads * kShardsEach);
  }
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].accepted.size(), size_t{kThreads * kShardsEach});
}

// ------------------------------------------------------------- failures

TEST(JournalTest, WriteErrorIsStickyAndStopsLaterWrites) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "r", 1)));
    ASSERT_TRUE(journal->Sync().ok());
    journal->Append(One(JobCreated(1, "again", 1)));  // duplicate id
    const absl::Status st = journal->Sync();
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(std::string(st.message()), HasSubstr("job 1"));
    EXPECT_THAT(std::string(st.message()), HasSubstr("state.db"));
    journal->Append(One(ShardAccepted(1, 0, "dropped")));
    EXPECT_EQ(journal->Sync(), st);
  }
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].request_id, "r");
  EXPECT_TRUE(jobs[0].accepted.empty());
}

TEST(JournalTest, SecondOpenOfADirectoryInUseFails) {
  const std::string dir = NewStateDir();
  std::unique_ptr<Journal> first = MustOpen(dir);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(ReadWholeFile(dir + "/LOCK"), absl::StrCat(getpid(), "\n"));

  absl::StatusOr<std::unique_ptr<Journal>> second = OpenSqliteJournal(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use"));
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("(pid ", getpid(), ")")));

  first.reset();
  EXPECT_NE(MustOpen(dir), nullptr);
}

TEST(JournalTest, DirectoryIsCreatedPrivate) {
  const std::string dir = NewStateDir("a/b/c");
  ASSERT_NE(MustOpen(dir), nullptr);
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir + "/../..").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(JournalTest, StateDirThatIsAFileIsAnError) {
  const std::string dir = NewStateDir();
  ASSERT_NE(MustOpen(dir + "/sub"), nullptr);  // creates dir
  std::ofstream(dir + "/file") << "x";
  absl::StatusOr<std::unique_ptr<Journal>> journal =
      OpenSqliteJournal(dir + "/file");
  EXPECT_FALSE(journal.ok());
  EXPECT_FALSE(OpenSqliteJournal("").ok());
}

TEST(JournalTest, GarbageDatabaseIsAnErrorNotACrash) {
  const std::string dir = NewStateDir();
  ASSERT_EQ(mkdir(dir.substr(0, dir.rfind('/')).c_str(), 0700), 0);
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  {
    std::ofstream out(dir + "/state.db", std::ios::binary);
    for (int i = 0; i < 10000; ++i) out << static_cast<char>(i * 31 + 7);
  }
  absl::StatusOr<std::unique_ptr<Journal>> journal = OpenSqliteJournal(dir);
  absl::Status st = journal.status();
  if (journal.ok()) st = (*journal)->Load().status();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("state.db"));
}

TEST(JournalTest, CorruptPagesAreAnErrorNotACrash) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    std::vector<JournalRecord> records;
    for (int j = 1; j <= 50; ++j) {
      records.push_back(JobCreated(j, "r", 10));
      for (int s = 0; s < 10; ++s) {
        records.push_back(ShardAccepted(j, s, std::string(500, 'p')));
      }
    }
    journal->Append(std::move(records));
    ASSERT_TRUE(journal->Sync().ok());
  }
  // Keep page 1 (the header and schema); scribble over every other page.
  const std::string path = dir + "/state.db";
  const int64_t page_size = QueryInt(dir, "PRAGMA page_size");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  ASSERT_GT(st.st_size, 2 * page_size);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(page_size);
    f << std::string(st.st_size - page_size, '\xa5');
  }
  absl::StatusOr<std::unique_ptr<Journal>> journal = OpenSqliteJournal(dir);
  absl::Status status = journal.status();
  if (journal.ok()) status = (*journal)->Load().status();
  EXPECT_FALSE(status.ok());
}

TEST(JournalTest, UnparsableSpecIsDataLossNamingTheJob) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    std::vector<JournalRecord> records;
    records.push_back(JobCreated(3, "ok", 1));
    records.push_back(JobCreated(17, "bad", 1));
    journal->Append(std::move(records));
  }
  // An unterminated varint: not a JobSpec.
  ExecSql(dir, "UPDATE jobs SET spec = x'ffffff' WHERE id = 17");
  ExpectLoadIsDataLossNaming(dir, "job 17");
}

TEST(JournalTest, UnparsableFinalStatusIsDataLossNamingTheJob) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(9, "r", 1)));
  }
  ExecSql(dir, "UPDATE jobs SET final = x'0a' WHERE id = 9");
  ExpectLoadIsDataLossNaming(dir, "job 9");
}

TEST(JournalTest, NewerSchemaVersionIsRefused) {
  const std::string dir = NewStateDir();
  ASSERT_NE(MustOpen(dir), nullptr);
  ExecSql(dir, "UPDATE meta SET value = 4 WHERE key = 'schema_version'");
  absl::StatusOr<std::unique_ptr<Journal>> journal = OpenSqliteJournal(dir);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(journal.status().message()),
              HasSubstr("schema version 4"));
}

// ------------------------------------------------------------ shard log

TEST(JournalTest, EndedJobKeepsItsShardLog) {
  const std::string dir = NewStateDir();
  const std::string log("shard log \0 bytes", 18);
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->Load().ok());
    journal->Append(One(JobCreated(1, "", 2)));
    JournalRecord ended = JobEnded(1, "3.14");
    ended.attempts = log;
    journal->Append(One(std::move(ended)));
    journal->Append(One(JobCreated(2, "", 2)));
    ASSERT_TRUE(journal->Sync().ok());
  }
  std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(jobs[0].ended);
  EXPECT_EQ(jobs[0].attempts, log);
  EXPECT_FALSE(jobs[1].ended);
  EXPECT_TRUE(jobs[1].attempts.empty());
}

TEST(JournalTest, VersionOneDatabaseGetsTheAttemptsColumn) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->Load().ok());
    journal->Append(One(JobCreated(1, "", 2)));
    journal->Append(One(JobEnded(1, "3.14")));
    ASSERT_TRUE(journal->Sync().ok());
  }
  // What shardex before the shard log wrote.
  ExecSql(dir,
          "ALTER TABLE jobs DROP COLUMN attempts; "
          "UPDATE meta SET value = 1 WHERE key = 'schema_version'");
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    absl::StatusOr<std::vector<JournaledJob>> jobs = journal->Load();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 1u);
    EXPECT_TRUE((*jobs)[0].ended);
    EXPECT_TRUE((*jobs)[0].attempts.empty());
    journal->Append(One(JobCreated(2, "", 2)));
    JournalRecord ended = JobEnded(2, "2.71");
    ended.attempts = "log";
    journal->Append(One(std::move(ended)));
    ASSERT_TRUE(journal->Sync().ok());
  }
  EXPECT_EQ(QueryInt(dir,
                     "SELECT value FROM meta WHERE key = 'schema_version'"),
            3);
  std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].attempts, "log");
}

// ------------------------------------------------------- shard batches

using Accepted = std::vector<std::pair<uint64_t, std::string>>;

TEST(JournalTest, BatchRecordsLoadBackAsAcceptedShards) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->Load().ok());
    std::vector<JournalRecord> records;
    records.push_back(JobCreated(1, "a", 6));
    records.push_back(JobCreated(2, "b", 2));
    journal->Append(std::move(records));
    // Results come back in any order, several jobs to a batch.
    records.clear();
    records.push_back(ShardsAccepted(1, {{4, "four"}, {0, "zero"}}));
    records.push_back(ShardsAccepted(2, {{1, "two-one"}}));
    journal->Append(std::move(records));
    journal->Append(One(ShardsAccepted(1, {{2, std::string("t\0o", 3)},
                                           {5, ""}})));
    journal->Append(One(ShardsAccepted(1, {})));  // no row
    ASSERT_TRUE(journal->Sync().ok());
  }
  // One row per record, not per shard.
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shard_batches"), 3);
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards"), 0);

  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].accepted, (Accepted{{0, "zero"},
                                        {2, std::string("t\0o", 3)},
                                        {4, "four"},
                                        {5, ""}}));
  EXPECT_EQ(jobs[1].accepted, (Accepted{{1, "two-one"}}));
}

TEST(JournalTest, ShardInTwoBatchesKeepsTheLaterRecord) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "", 3)));
    journal->Append(One(ShardAccepted(1, 0, "row")));  // one-shard row
    journal->Append(One(ShardsAccepted(1, {{1, "first"}, {0, "batch"}})));
    journal->Append(One(ShardsAccepted(1, {{1, "second"}})));
    ASSERT_TRUE(journal->Sync().ok());
  }
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].accepted, (Accepted{{0, "batch"}, {1, "second"}}));
}

TEST(JournalTest, EndedAndForgottenJobsDropTheirBatches) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    std::vector<JournalRecord> records;
    records.push_back(JobCreated(1, "", 2));
    records.push_back(JobCreated(2, "", 2));
    records.push_back(JobCreated(3, "", 2));
    records.push_back(ShardsAccepted(1, {{0, "x"}, {1, "y"}}));
    records.push_back(ShardsAccepted(2, {{0, "x"}}));
    records.push_back(ShardsAccepted(3, {{0, "kept"}}));
    records.push_back(JobEnded(1, "xy"));
    JournalRecord forget;
    forget.kind = JournalRecord::Kind::kJobForgotten;
    forget.job_id = 2;
    records.push_back(std::move(forget));
    journal->Append(std::move(records));
    ASSERT_TRUE(journal->Sync().ok());
  }
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shard_batches"), 1);
  EXPECT_EQ(
      QueryInt(dir, "SELECT count(*) FROM shard_batches WHERE job_id = 3"), 1);
  const std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(jobs[0].ended);
  EXPECT_TRUE(jobs[0].accepted.empty());
  EXPECT_EQ(jobs[1].accepted, (Accepted{{0, "kept"}}));
}

TEST(JournalTest, CorruptBatchIsDataLossNamingTheJob) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(9, "", 2)));
    journal->Append(One(ShardsAccepted(9, {{0, "payload"}})));
    ASSERT_TRUE(journal->Sync().ok());
  }
  // The length says 7 bytes; cut the payload short.
  ExecSql(dir, "UPDATE shard_batches SET data = substr(data, 1, 5)");
  ExpectLoadIsDataLossNaming(dir, "job 9");
}

// What shardex wrote before shard batches: schema version 2, one `shards`
// row per accepted shard, no shard_batches table. It still loads, and is
// brought to version 3 so new batches go in beside the old rows.
TEST(JournalTest, VersionTwoDatabaseWithShardRowsLoadsAndIsMigrated) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "old", 4)));
    journal->Append(One(ShardAccepted(1, 2, "two")));
    journal->Append(One(ShardAccepted(1, 0, "zero")));
    ASSERT_TRUE(journal->Sync().ok());
  }
  ExecSql(dir,
          "DROP INDEX shard_batches_by_job; DROP TABLE shard_batches; "
          "UPDATE meta SET value = 2 WHERE key = 'schema_version'");
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    absl::StatusOr<std::vector<JournaledJob>> jobs = journal->Load();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 1u);
    EXPECT_EQ((*jobs)[0].accepted, (Accepted{{0, "zero"}, {2, "two"}}));
    // The resumed job goes on, in batches now.
    journal->Append(One(ShardsAccepted(1, {{3, "three"}, {1, "one"}})));
    ASSERT_TRUE(journal->Sync().ok());
  }
  EXPECT_EQ(QueryInt(dir,
                     "SELECT value FROM meta WHERE key = 'schema_version'"),
            3);
  std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].accepted,
            (Accepted{{0, "zero"}, {1, "one"}, {2, "two"}, {3, "three"}}));
  // Its end drops both kinds of rows.
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->Load().ok());
    journal->Append(One(JobEnded(1, "done")));
    ASSERT_TRUE(journal->Sync().ok());
  }
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shards"), 0);
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shard_batches"), 0);
}

// Version 1 (no jobs.attempts, no shard_batches) goes straight to 3.
TEST(JournalTest, VersionOneDatabaseWithShardRowsIsMigrated) {
  const std::string dir = NewStateDir();
  {
    std::unique_ptr<Journal> journal = MustOpen(dir);
    ASSERT_NE(journal, nullptr);
    journal->Append(One(JobCreated(1, "", 2)));
    journal->Append(One(ShardAccepted(1, 1, "one")));
    ASSERT_TRUE(journal->Sync().ok());
  }
  ExecSql(dir,
          "ALTER TABLE jobs DROP COLUMN attempts; "
          "DROP INDEX shard_batches_by_job; DROP TABLE shard_batches; "
          "UPDATE meta SET value = 1 WHERE key = 'schema_version'");
  std::vector<JournaledJob> jobs = MustLoad(dir);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].accepted, (Accepted{{1, "one"}}));
  EXPECT_EQ(QueryInt(dir,
                     "SELECT value FROM meta WHERE key = 'schema_version'"),
            3);
  EXPECT_EQ(QueryInt(dir, "SELECT count(*) FROM shard_batches"), 0);
}

// ------------------------------------------------------- default path

}  // namespace
}  // namespace shardex
