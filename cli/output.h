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

// A proto as one JSON object (field names as in the .proto).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace shardex

#endif  // SHARDEX_CLI_OUTPUT_H_
