// Kernel: a built-in CPU-bound job type (primes, pi, sleep, ...).
//
// A kernel turns validated arguments into a KernelJob. The coordinator asks
// the KernelJob for its domain (the integer range the job is split over) and
// reduces the shards' payloads; workers ask it to run one shard's range.
// Adding a kernel is one file plus one SHARDEX_REGISTER_KERNEL line
// (docs/kernels.md).
//
// Thread-safety: a KernelJob is immutable after Create and safe to use from
// many threads at once; the registry is filled during static initialisation
// and read-only afterwards.
#ifndef SHARDEX_KERNELS_KERNEL_H_
#define SHARDEX_KERNELS_KERNEL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace shardex {

// Kernel arguments as they travel in JobSpec.args: name -> text value.
using KernelArgs = std::map<std::string, std::string>;

// The integer range a job is split over. Shard i of n covers
// [lo + (hi-lo)*i/n, lo + (hi-lo)*(i+1)/n). A kernel whose shards are
// independent tasks (sleep) uses kTasks: the domain is [0, shards).
struct Domain {
  enum class Kind { kRange, kTasks };
  Kind kind = Kind::kRange;
  uint64_t lo = 0;
  uint64_t hi = 0;
};

// Half-open range of one shard.
struct ShardRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Set by the worker when the coordinator cancels an attempt. Kernels poll it
// between chunks of work (every few milliseconds) and return CANCELLED.
using CancelFlag = std::atomic<bool>;

// The reduced answer: `value` is what the CLI prints; `details` are extras.
struct KernelResult {
  std::string value;
  std::map<std::string, std::string> details;
};

class KernelJob {
 public:
  virtual ~KernelJob() = default;

  virtual Domain domain() const = 0;

  // Runs one shard and returns its partial result, encoded by the kernel.
  virtual absl::StatusOr<std::string> RunShard(
      ShardRange range, const CancelFlag& cancel) const = 0;

  // Combines every shard's payload, given in shard order, into the answer.
  // Must be exact: the same for any shard count or placement.
  virtual absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const = 0;
};

// One command-line parameter of a kernel (`--to`, `--samples`, ...).
struct KernelParam {
  std::string name;           // without dashes
  std::string help;
  std::string default_value;  // empty and !required: absent unless given
  bool required = false;
  // When absent, the coordinator fills in a random uint64 at submission and
  // records it in the job (e.g. a seed: each run differs, yet every shard,
  // retry and `status` sees the same value, so a run can be repeated).
  bool random_if_absent = false;
};

struct KernelInfo {
  std::string name;
  std::string summary;
  std::vector<KernelParam> params;
  // Validates `args` (unknown names, ranges, number syntax) and builds the
  // job. Errors are INVALID_ARGUMENT naming the parameter.
  std::function<absl::StatusOr<std::unique_ptr<KernelJob>>(const KernelArgs&)>
      create;
};

// Looks up a kernel and creates its job; NOT_FOUND lists the known kernels.
absl::StatusOr<std::unique_ptr<KernelJob>> CreateKernelJob(
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
