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
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace shardex {

// Kernel arguments as they travel in JobSpec.args: name -> text value.
using KernelArgs = std::map<std::string, std::string>;

// The integer range a job is split over. Shard i of n covers
// [lo + (hi-lo)*i/n, lo + (hi-lo)*(i+1)/n). A kernel whose shards are
// independent tasks (sleep) uses kTasks: the domain is [0, shards), and
// hi > 0 fixes the shard count at hi (one shard per input file, say).
struct Domain {
  enum class Kind { kRange, kTasks };
  Kind kind = Kind::kRange;
  uint64_t lo = 0;
  uint64_t hi = 0;
  // For kRange: when not 0, the default shard count is about
  // (hi - lo) / shard_size_hint instead of one from the cluster size (e.g.
  // hashsearch wants shards small next to the expected search length).
  uint64_t shard_size_hint = 0;
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
  // Must be exact: the same for any shard count or placement. Runs on the
  // coordinator, on a thread of its own.
  virtual absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const = 0;

  // A payload may show that shards beginning at or above some point are no
  // longer needed (hashsearch found a nonce there). Returning that point
  // makes the coordinator skip those shards (cancelling running ones); Reduce
  // then gets an empty payload for each skipped shard. Must be cheap.
  virtual std::optional<uint64_t> Cutoff(const std::string& payload) const {
    return std::nullopt;
  }
};

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
