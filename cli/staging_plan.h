// The staging table of a job (docs/staging.md): which files of the
// submitting host travel with it. PlanStaging finds every input file the
// spec names (a kernel's input path parameters, command.inputs,
// command.lines) and every regular file under each `--upload FILE|DIR`,
// hashes each, and fills JobSpec.staged. The upload itself is
// client/stager.h.
//
// Upload names: the basename of the path given, plus the path inside a
// directory ("model/w.bin"); never absolute, never "..". Inside an uploaded
// directory a symlink is stored as what it points to when that lies inside
// the directory, and refused (naming the link and its target) when it
// points outside; sockets, FIFOs and devices are refused.
//
// Thread-safety: pure functions over the filesystem.
#ifndef SHARDEX_CLI_STAGING_PLAN_H_
#define SHARDEX_CLI_STAGING_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/shardex.pb.h"

namespace shardex {

// The input files the spec names, in order, each once. Kernel parameters
// with is_path && !is_output (a value of '\n'-separated paths), then
// command.inputs, then command.lines.
std::vector<std::string> InputPaths(const shardex::v1::JobSpec& spec);

// A kernel's output file parameters given in the spec: name -> path
// (mandelbrot's out). Empty for command jobs.
std::map<std::string, std::string> OutputParams(
    const shardex::v1::JobSpec& spec);

// Fills spec->staged from InputPaths and `uploads` (absolute paths). Errors
// name the path and the fix: an input this host cannot read (NOT_FOUND or
// PERMISSION_DENIED), --upload on a kernel job, an escaping symlink, a
// special file, two uploads with the same name (INVALID_ARGUMENT).
absl::Status PlanStaging(const std::vector<std::string>& uploads,
                         shardex::v1::JobSpec* spec);

}  // namespace shardex

#endif  // SHARDEX_CLI_STAGING_PLAN_H_
