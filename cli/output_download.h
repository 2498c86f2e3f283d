// OutputDownload: the CLI's side of a job's outputs without a shared
// filesystem (docs/staging.md). Before the submit it makes sure they can
// land on this host (--output DIR created empty, a kernel output file's
// directory present); while `submit` watches the job it downloads new
// complete parts, at most every kPollInterval; when the job has succeeded
// it downloads the rest, `_SUCCESS` last, and a kernel's output file
// (mandelbrot's out) to the user's path. `shardex fetch` uses the same
// steps after the fact.
//
// Thread-safety: one thread (the watch callback runs on the caller's).
#ifndef SHARDEX_CLI_OUTPUT_DOWNLOAD_H_
#define SHARDEX_CLI_OUTPUT_DOWNLOAD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/output_fetcher.h"
#include "client/store_client.h"
#include "proto/shardex.pb.h"

namespace shardex {

// Before submitting `spec` (not shared_fs): creates --output DIR here (it
// must not exist or be empty) and checks that each kernel output file's
// directory exists here. Errors name the flag and the path.
absl::Status PrepareLocalOutputs(const shardex::v1::JobSpec& spec);

class OutputDownload {
 public:
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(250);

  // Null when the job has nothing for this host: shared_fs, or neither
  // output_dir nor a kernel output file.
  static std::unique_ptr<OutputDownload> For(CoordinatorClient& client,
                                         uint64_t job_id,
                                         const shardex::v1::JobSpec& spec);

  // On each watch update: FetchNew when kPollInterval has passed since the
  // last. The first error is printed on stderr, and polling stops until
  // Finish.
  void OnUpdate(absl::Time now);

  // After the job ended with `state`: when it succeeded, everything, with
  // `_SUCCESS` last (waiting briefly for the coordinator to list it);
  // otherwise the parts that exist. UNAVAILABLE when the coordinator has
  // not listed `_SUCCESS` (or a kernel output file) within ~10 s.
  absl::Status Finish(shardex::v1::JobState state);

 private:
  OutputDownload(CoordinatorClient& client, uint64_t job_id, OutputTargets targets);

  const uint64_t job_id_;
  StoreClient store_;
  OutputFetcher fetcher_;
  absl::Time last_poll_ = absl::InfinitePast();
  bool poll_failed_ = false;
};

}  // namespace shardex

#endif  // SHARDEX_CLI_OUTPUT_DOWNLOAD_H_
