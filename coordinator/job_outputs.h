// JobOutputs: where the coordinator keeps the outputs of jobs submitted
// without a shared filesystem (docs/staging.md, "Outputs"):
// STATE/outputs/<job_id>/ holds part-NNNNN (part-BEGIN-END for adaptive
// shards), result and _SUCCESS (for
// JobSpec.output_dir) and param-<name> (a kernel's output file parameter,
// mandelbrot's out), each written under a temporary name and renamed. The
// client lists and reads the complete files (Store.ListOutputs and
// ReadOutput) and writes them on its own host; the directory is deleted
// when the job's record is forgotten.
//
// Only plain names of those four forms are listed or opened, so a name is
// never a path and a temporary file is never seen.
//
// Thread-safety: immutable; every method is safe from any thread.
#ifndef SHARDEX_COORDINATOR_JOB_OUTPUTS_H_
#define SHARDEX_COORDINATOR_JOB_OUTPUTS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace shardex {

struct OutputFileInfo {
  std::string name;
  uint64_t size = 0;
};

class JobOutputs {
 public:
  // `root` is STATE/outputs; created on first use.
  explicit JobOutputs(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // root/<job_id>
  std::string DirOf(uint64_t job_id) const;
  // "param-<name>": the file of a kernel's output parameter.
  static std::string ParamFileName(const std::string& param);
  // OK for part-NNNNN, part-BEGIN-END, result, _SUCCESS and param-<name> (letters, digits,
  // '-' and '_'); INVALID_ARGUMENT otherwise ('/', "..", temporary names).
  static absl::Status CheckName(const std::string& name);

  // The job's complete files, sorted by name. NOT_FOUND if the job has no
  // directory (no outputs kept, or forgotten).
  absl::StatusOr<std::vector<OutputFileInfo>> List(uint64_t job_id) const;
  // Opens one for reading. NOT_FOUND if absent.
  absl::StatusOr<UniqueFd> Open(uint64_t job_id, const std::string& name) const;
  // Deletes the job's directory (absent is fine).
  absl::Status Remove(uint64_t job_id) const;
  // Deletes the directories of jobs not in `kept` (a crash can come
  // between forgetting a job and deleting its outputs).
  void RemoveAllExcept(const std::set<uint64_t>& kept) const;

 private:
  const std::string root_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_JOB_OUTPUTS_H_
