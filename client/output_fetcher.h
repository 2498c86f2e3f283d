// OutputFetcher: copies a job's outputs from the coordinator's store to the
// submitting host (docs/staging.md, "Outputs"), for jobs run without a
// shared filesystem. The coordinator lists complete files only; each is
// written here under a temporary name and renamed (StoreClient::ReadOutput),
// and `_SUCCESS` comes last of all, so a reader of the directory that sees
// `_SUCCESS` sees every other file whole.
//
// Names the coordinator uses: "part-NNNNN", "result", "_SUCCESS" (go to
// OutputTargets::dir) and "param-<name>" (a kernel's output file parameter,
// goes to OutputTargets::params[name], else dir/param-<name>). Other names
// are left alone.
//
// Thread-safety: one thread at a time (the CLI's watch callback, then the
// end of the job).
#ifndef SHARDEX_CLIENT_OUTPUT_FETCHER_H_
#define SHARDEX_CLIENT_OUTPUT_FETCHER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "client/store_client.h"

namespace shardex {

struct OutputTargets {
  // Existing directory for parts, result and _SUCCESS; empty: not wanted.
  std::string dir;
  // Kernel output parameter name ("out") -> local file to write.
  std::map<std::string, std::string> params;
};

class OutputFetcher {
 public:
  OutputFetcher(StoreClient& store, uint64_t job_id, OutputTargets targets);

  // While the job runs: downloads the parts (and result) listed now that
  // were not fetched yet. Never `_SUCCESS` nor parameter files.
  absl::Status FetchNew();

  // Once the job has ended: downloads everything listed not fetched yet,
  // `_SUCCESS` last. True when all that is wanted was there: `_SUCCESS`
  // when there is a dir, and every parameter in `params`.
  absl::StatusOr<bool> FetchAll();

  // Files written so far.
  size_t fetched() const { return done_.size(); }

 private:
  // Where output `name` goes; empty when it is not wanted.
  std::string Destination(const std::string& name) const;
  absl::Status Fetch(const std::string& name);

  StoreClient& store_;
  const uint64_t job_id_;
  const OutputTargets targets_;
  std::set<std::string> done_;  // names fetched
};

}  // namespace shardex

#endif  // SHARDEX_CLIENT_OUTPUT_FETCHER_H_
