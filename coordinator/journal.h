// Journal: the coordinator's durable state — jobs, their resolved specs and
// the payloads of accepted shards — so a coordinator killed at any moment
// and started again on the same state directory resumes every unfinished
// job without re-running accepted shards.
//
// Writes are records appended to an in-memory queue and committed by one
// writer thread in batches (group commit: one transaction, one fsync, for
// everything queued meanwhile). Append never blocks on the disk; Sync waits
// until everything appended before it is durable. Records nobody syncs
// wait up to a commit window (JournalOptions) for others to share their
// transaction: shard results arriving one at a time (short command shards)
// would otherwise cost an fsync each. A Sync never waits out the window. Submit syncs (a job is on
// disk before the client hears of it); shard results do not (a crash loses
// at most the last batch, and those shards simply run again). A job's end
// syncs, and batches commit in order, so the shards of a job that reported
// its result are on disk before the report.
//
// SqliteJournal keeps it in SQLite (WAL, synchronous=FULL) at
// <state_dir>/state.db, and holds an exclusive lock on <state_dir>/LOCK so
// two coordinators cannot share a state directory.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SHARDEX_COORDINATOR_JOURNAL_H_
#define SHARDEX_COORDINATOR_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/shardex.pb.h"

namespace shardex {

// One change to the durable state. Plain bytes, no protos inside: a shard
// record is built for every accepted result, so it must be cheap.
struct JournalRecord {
  enum class Kind {
    kJobCreated,     // job_id, request_id, submit_unix_ms; data: JobSpec
    kShardsAccepted,  // job_id; data: accepted shards and their payloads
                      // (shard_batch_codec.h). The scheduler sends one per
                      // job per result batch: one row, however many shards.
    kShardAccepted,   // job_id, shard; data: the payload. One row per
                      // shard (still read from older files; kept for
                      // single writes).
    kJobEnded,       // job_id; data: the final JobStatus; attempts: the
                     // job's shard log (AttemptLog::Serialize). Drops the
                     // job's shard payloads.
    kJobForgotten,   // job_id: an ended job the coordinator no longer keeps
                     // (--max-job-records); its rows go.
  };
  Kind kind = Kind::kJobCreated;
  uint64_t job_id = 0;
  uint64_t shard = 0;
  int64_t submit_unix_ms = 0;
  std::string request_id;
  std::string data;  // see Kind
  std::string attempts;  // kJobEnded
};

// What Load finds: every job ever journaled, oldest first.
struct JournaledJob {
  uint64_t id = 0;
  std::string request_id;
  shardex::v1::JobSpec spec;
  int64_t submit_unix_ms = 0;
  bool ended = false;
  shardex::v1::JobStatus final_status;  // when ended
  // When ended: its shard log (AttemptLog::Serialize); empty if none was
  // journaled (a job that ended before the log existed).
  std::string attempts;
  // (shard, payload) of accepted shards, when not ended; by shard, each
  // shard once: of a shard journaled twice, the later record (one-shard
  // rows count as older than every batch: they come from older files).
  std::vector<std::pair<uint64_t, std::string>> accepted;
};

class Journal {
 public:
  virtual ~Journal() = default;

  // Reads the whole durable state. Call once, before the first Append.
  // A record that cannot be parsed is an error naming the job.
  virtual absl::StatusOr<std::vector<JournaledJob>> Load() = 0;

  // Queues records for the writer thread; returns at once.
  virtual void Append(std::vector<JournalRecord> records) = 0;

  // Waits until every record appended before the call is committed, and
  // returns the first write error seen (then every later call fails too).
  virtual absl::Status Sync() = 0;
};

// Opens (creating if needed, mode 0700) `state_dir` and its database.
// FAILED_PRECONDITION naming the holder's pid if another process holds the
// directory's lock.
struct JournalOptions {
  // How long records appended without a Sync may wait for more to commit
  // with. Zero: commit as soon as the writer is free.
  absl::Duration commit_window = absl::Milliseconds(5);
};

absl::StatusOr<std::unique_ptr<Journal>> OpenSqliteJournal(
    const std::string& state_dir, JournalOptions options = {});


}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_JOURNAL_H_
