// How the CLI shows jobs and workers: one-line progress for terminals,
// human-readable summaries and tables, and JSON for scripts.
//
// Thread-safety: ProgressLine is used from one thread; the rest are pure
// functions.
#ifndef SHARDEX_CLI_OUTPUT_H_
#define SHARDEX_CLI_OUTPUT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/shardex.pb.h"

namespace shardex {

// "running", "succeeded", ... from JOB_RUNNING, JOB_SUCCEEDED, ...
std::string StateName(shardex::v1::JobState state);

// Redraws one status line on a terminal: shards done/total, rate, ETA.
class ProgressLine {
 public:
  explicit ProgressLine(FILE* out) : out_(out) {}
  void Update(const shardex::v1::JobStatus& status, absl::Time now);
  void Clear();  // erases the line before other output

 private:
  FILE* out_;
  absl::Time first_ = absl::InfinitePast();
  uint64_t first_done_ = 0;
  bool drawn_ = false;
};

// Multi-line human summary of one job (used by `status`). What the job
// runs comes from its spec, or from `summary` when the spec was left out.
std::string FormatJob(const shardex::v1::JobStatus& status);
// One line: "job 3 succeeded: 64 shards in 1.23 s (0 retries)".
std::string FormatOutcome(const shardex::v1::JobStatus& status);
// One row per job (used by `jobs`; ListJobs entries carry `summary`).
std::string FormatJobTable(const std::vector<shardex::v1::JobStatus>& jobs);
std::string FormatWorkerTable(
    const std::vector<shardex::v1::WorkerInfo>& workers);

// A job's shard log (`status JOB --shards`), one row per attempt in start
// order. The table has SHARD ATTEMPT WORKER HOST START RUNTIME OUTCOME EXIT
// BYTES (a speculative backup's attempt is marked "*"), then the error of
// each failed attempt. `dropped`: attempts the coordinator did not keep.
std::string FormatAttemptTable(
    const std::vector<shardex::v1::AttemptRecord>& attempts,
    uint64_t dropped = 0);
// The same as one JSON array of objects named like AttemptRecord's fields;
// numbers are JSON numbers, `outcome` is "succeeded", "failed", ...,
// `exit_code` is null when there is none.
std::string AttemptsToJson(
    const std::vector<shardex::v1::AttemptRecord>& attempts);
// The same as CSV (RFC 4180: CRLF-free, quoted where needed) with a header
// line of the field names.
std::string AttemptsToCsv(
    const std::vector<shardex::v1::AttemptRecord>& attempts);
// "succeeded", "failed", ... from ATTEMPT_SUCCEEDED, ATTEMPT_FAILED, ...
std::string OutcomeName(shardex::v1::AttemptOutcome outcome);

// Host load of a worker for `workers`: "37%", "1.2/7.6G", "0.85".
std::string FormatCpu(const shardex::v1::WorkerInfo& w);
std::string FormatMemory(const shardex::v1::WorkerInfo& w);

// A proto as one JSON object (field names as in the .proto).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace shardex

#endif  // SHARDEX_CLI_OUTPUT_H_
