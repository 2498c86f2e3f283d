// Stager: sends the files of a job's staging table (JobSpec.staged, filled by
// cli/staging_plan.h) to the coordinator's store before the job is
// submitted (docs/staging.md): one StatBlobs for every distinct blob, then
// nothing for those already stored, a resumed upload from received_bytes
// for those partly received, and a whole upload for the rest.
//
// On `err` it prints, for each resumed upload,
//   shardex: resuming upload of 'PATH' at N of SIZE bytes
// a progress line redrawn in place when `progress_bar` (a terminal), and at
// the end one summary line (FormatStageSummary). An upload stream that
// breaks (UNAVAILABLE) is resumed, after a fresh StatBlobs, a few times.
// Any other error (a quota the coordinator names, an unreadable file) stops
// it; the caller submits nothing then.
//
// Thread-safety: one call at a time per `err`.
#ifndef SHARDEX_CLIENT_STAGER_H_
#define SHARDEX_CLIENT_STAGER_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "client/store_client.h"
#include "proto/shardex.pb.h"

namespace shardex {

// Counts of distinct blobs (the same content named twice is one file here):
// files == uploaded + already_stored.
struct StageReport {
  uint64_t files = 0;
  uint64_t bytes = 0;     // of those files, whole
  uint64_t uploaded = 0;  // sent now, whole or resumed
  uint64_t already_stored = 0;
};

// "shardex: staged N files (X bytes): U uploaded, S already stored"
std::string FormatStageSummary(const StageReport& report);

// Uploads what the store lacks of `spec.staged`; prints as described above.
absl::StatusOr<StageReport> UploadStaged(StoreClient& store,
                                         const shardex::v1::JobSpec& spec,
                                         FILE* err, bool progress_bar);

}  // namespace shardex

#endif  // SHARDEX_CLIENT_STAGER_H_
