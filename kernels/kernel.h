// Kernel: a built-in CPU-bound job type (primes, pi, sleep, ...), and the
// registry that finds kernels by name.
//
// A kernel has two sides, made from the same validated arguments:
//   * KernelJob (kernels/kernel_job.h), on the coordinator: the job's Domain,
//     Reduce and Cutoff. Made by KernelInfo::create / CreateKernelJob.
//   * ShardRunner (kernels/shard_runner.h), on workers: RunShard over one
//     shard's range. Made by KernelInfo::create_runner / CreateShardRunner.
// Adding a kernel is one file plus one SHARDEX_REGISTER_KERNEL line
// (docs/kernels.md).
//
// Thread-safety: the registry is filled during static initialisation and
// read-only afterwards, so lookups are safe from any thread.
#ifndef SHARDEX_KERNELS_KERNEL_H_
#define SHARDEX_KERNELS_KERNEL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/kernel_job.h"
#include "kernels/shard_runner.h"
#include "kernels/split.h"

namespace shardex {

// Kernel arguments as they travel in JobSpec.args: name -> text value.
using KernelArgs = std::map<std::string, std::string>;

// For a path parameter P (KernelParam::is_path), args[P + kAsSubmitted] may
// hold the path(s) exactly as the user named them when args[P] names local
// copies of the same files (the coordinator's staged blobs,
// docs/staging.md). Kernels read args[P] and show the as-submitted names
// (grep's "FILE:" prefixes, error messages).
inline constexpr char kAsSubmitted[] = "@as-submitted";

// One command-line parameter of a kernel (`--to`, `--samples`, ...).
struct KernelParam {
  // kFlag: `--name value`. kPositional: one positional argument (in
  // declaration order). kPositionalList: all remaining positional arguments,
  // joined with '\n' into one value (e.g. the FILE... of wordcount).
  // kSwitch: `--name` alone, which sets the value "true" (default "false").
  enum class Kind { kFlag, kPositional, kPositionalList, kSwitch };

  std::string name;           // without dashes
  std::string help;
  std::string default_value;  // empty and !required: absent unless given
  bool required = false;
  // When absent, the coordinator fills in a random uint64 at submission and
  // records it in the job (e.g. a seed: each run differs, yet every shard,
  // retry and `status` sees the same value, so a run can be repeated).
  bool random_if_absent = false;
  Kind kind = Kind::kFlag;
  // The value names files (or '\n'-separated files): the CLI makes relative
  // paths absolute before submitting, since workers run elsewhere.
  bool is_path = false;
  // With is_path: the kernel WRITES this file (mandelbrot's out) rather than
  // reading it. Without a shared filesystem, an input path is staged (read
  // on the submitting host and uploaded) and an output path is written on
  // the submitting host from the coordinator's copy (docs/staging.md).
  bool is_output = false;
};

struct KernelInfo {
  std::string name;
  std::string summary;
  std::vector<KernelParam> params;
  // Validates `args` (unknown names, ranges, number syntax) and builds the
  // coordinator's side. Errors are INVALID_ARGUMENT naming the parameter.
  // Required.
  std::function<absl::StatusOr<std::unique_ptr<KernelJob>>(const KernelArgs&)>
      create;
  // The same validation, building the worker's side. Every built-in kernel
  // has one (kernel_registry_test checks); a kernel registered without one
  // (a coordinator-only test double) cannot run on a worker.
  std::function<absl::StatusOr<std::unique_ptr<ShardRunner>>(const KernelArgs&)>
      create_runner;
};

// Fills in info->create and info->create_runner for a kernel whose sides are
// both built from one parsed-arguments struct: `parse` validates the args,
// then Job(Parsed) or Runner(Parsed) is made from its result.
template <typename Job, typename Runner, typename Parsed>
void SetKernelSides(absl::StatusOr<Parsed> (*parse)(const KernelArgs&),
                    KernelInfo* info) {
  info->create = [parse](const KernelArgs& args)
      -> absl::StatusOr<std::unique_ptr<KernelJob>> {
    absl::StatusOr<Parsed> parsed = parse(args);
    if (!parsed.ok()) return parsed.status();
    return std::make_unique<Job>(*std::move(parsed));
  };
  info->create_runner = [parse](const KernelArgs& args)
      -> absl::StatusOr<std::unique_ptr<ShardRunner>> {
    absl::StatusOr<Parsed> parsed = parse(args);
    if (!parsed.ok()) return parsed.status();
    return std::make_unique<Runner>(*std::move(parsed));
  };
}

// Looks up a kernel and creates its coordinator side; NOT_FOUND lists the
// known kernels.
absl::StatusOr<std::unique_ptr<KernelJob>> CreateKernelJob(
    const std::string& kernel, const KernelArgs& args);

// Looks up a kernel and creates its worker side; NOT_FOUND lists the known
// kernels, UNIMPLEMENTED names a kernel that has no worker side.
absl::StatusOr<std::unique_ptr<ShardRunner>> CreateShardRunner(
    const std::string& kernel, const KernelArgs& args);

// Every registered kernel, sorted by name.
std::vector<const KernelInfo*> AllKernels();
const KernelInfo* FindKernel(const std::string& name);

namespace internal {
bool RegisterKernel(KernelInfo info);
}  // namespace internal

}  // namespace shardex

// Registers a kernel at static-initialisation time. `info_fn` is a function
// returning a KernelInfo. The kernel's cc_library needs alwayslink = True.
#define SHARDEX_REGISTER_KERNEL(id, info_fn)                     \
  static const bool shardex_kernel_registered_##id [[maybe_unused]] = \
      ::shardex::internal::RegisterKernel(info_fn())

#endif  // SHARDEX_KERNELS_KERNEL_H_
