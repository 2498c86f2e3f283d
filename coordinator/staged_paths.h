// Staged paths: how the coordinator reads a job's files from its store
// instead of the submitting host's filesystem (docs/staging.md).
//
// A spec stays exactly as the client sent it (it is journaled and sent to
// workers with its original paths and its `staged` table). For planning
// and running on the coordinator, Localize makes a copy in which
//   * every input path (a kernel parameter with is_path && !is_output, one
//     path or '\n'-separated paths; command.inputs[i]; command.lines) that
//     is staged names the blob's file in the store instead;
//   * without JobSpec.shared_fs, output_dir is STATE/outputs/<job> and a
//     kernel output parameter (mandelbrot's out) is
//     STATE/outputs/<job>/param-<name>, so the user's paths are never
//     touched on the coordinator's host.
// Unless the job's shared_fs or the coordinator's --shared-fs is set, every
// input path must be staged. With no store at all (a coordinator without a
// state directory, and unit tests), paths are used as they are.
//
// Thread-safety: pure functions over their arguments; the store and the
// outputs have their own locks.
#ifndef SHARDEX_COORDINATOR_STAGED_PATHS_H_
#define SHARDEX_COORDINATOR_STAGED_PATHS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/blob_store.h"
#include "coordinator/job_outputs.h"
#include "proto/shardex.pb.h"

namespace shardex {

// What staging needs from the coordinator. Both pointers null: no staging.
struct StagingEnv {
  BlobStore* store = nullptr;           // not owned
  const JobOutputs* outputs = nullptr;  // not owned; set with `store`
  bool shared_fs = false;               // the coordinator's --shared-fs
};

// A spec's localized copy and what comes with it.
struct LocalizedSpec {
  shardex::v1::JobSpec spec;
  // The distinct blobs the spec's staged table names (to pin).
  std::vector<std::string> blobs;
  // Outputs are kept in STATE/outputs/<job> for the client to fetch.
  bool keeps_outputs = false;
  // Paths not staged are used as they are (JobDefinition.shared_fs).
  bool shared_fs = false;
  // Kernel output files kept here, by the client's path (a kernel's
  // result naming its file then names the client's).
  std::map<std::string, std::string> client_paths;  // local -> client
};

// The host name, for errors about what this host cannot open.
std::string ThisHostName();

// The distinct blob names the staged table lists, unchecked (to pin).
std::vector<std::string> StagedBlobs(const shardex::v1::JobSpec& spec);

// Checks the staged table (sha256 names, relative upload_names without
// ".." or empty components, no duplicate paths or names) without looking
// at the store. INVALID_ARGUMENT naming the entry.
absl::Status CheckStagedTable(const shardex::v1::JobSpec& spec);

// The copy of `spec` the coordinator plans and runs job `job_id` from.
// INVALID_ARGUMENT for an input path that should have been staged and was
// not (or, with shared_fs, one this host cannot open); FAILED_PRECONDITION
// for a staged blob the store does not hold.
absl::StatusOr<LocalizedSpec> Localize(const shardex::v1::JobSpec& spec,
                                       uint64_t job_id, const StagingEnv& env);

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_STAGED_PATHS_H_
