// Kernel "sleep": every shard sleeps --ms milliseconds. It does no work, so
// it exercises scheduling, timeouts and cancellation without burning CPU.
//
// Thread-safety: SleepJob and SleepRunner are immutable.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/args.h"
#include "kernels/kernel.h"
#include "kernels/payload.h"
#include "kernels/split.h"

namespace shardex {
namespace {

constexpr char kName[] = "sleep";
constexpr uint64_t kMaxMs = 3'600'000;  // one hour

// Sleeping in slices this long bounds how late a cancel is noticed.
constexpr std::chrono::milliseconds kSlice{10};

std::vector<KernelParam> SleepParams() {
  return {{"ms", "milliseconds each shard sleeps (0 to 3600000)", "", true}};
}

// Sleeps `ms` milliseconds, or returns CANCELLED soon after `cancel` is set.
// Uses the monotonic clock so wall-clock jumps do not shorten or stretch it.
absl::Status SleepUnlessCancelled(uint64_t ms, const CancelFlag& cancel) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return absl::OkStatus();
    if (cancel.load()) return absl::CancelledError("sleep shard cancelled");
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(deadline - now, kSlice));
  }
}

// The validated arguments; both sides are built from them.
struct SleepArgs {
  uint64_t ms = 0;

  Domain domain() const { return Domain{Domain::Kind::kTasks, 0, 0}; }
};

absl::StatusOr<SleepArgs> ParseSleepArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, SleepParams(), args));
  SleepArgs a;
  ASSIGN_OR_RETURN(a.ms, GetUint64Arg(resolved, "ms", 0));
  RETURN_IF_ERROR(CheckArgRange("ms", a.ms, 0, kMaxMs));
  return a;
}

class SleepJob final : public KernelJob {
 public:
  explicit SleepJob(SleepArgs args) : args_(args) {}

  Domain domain() const override { return args_.domain(); }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    // Each shard reports "1"; anything else is a corrupt payload.
    for (size_t i = 0; i < payloads.size(); ++i) {
      ASSIGN_OR_RETURN(const uint64_t one, DecodeCount(payloads[i], i));
      if (one != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "payload of sleep shard ", i, " is ", one, ", expected 1"));
      }
    }
    ASSIGN_OR_RETURN(const uint64_t shards, SumCounts(payloads));
    KernelResult result;
    result.value = absl::StrCat(shards);
    result.details["ms"] = absl::StrCat(args_.ms);
    result.details["summary"] =
        absl::StrCat("slept ", shards, " shards of ", args_.ms, " ms");
    return result;
  }

 private:
  const SleepArgs args_;
};

class SleepRunner final : public ShardRunner {
 public:
  explicit SleepRunner(SleepArgs args) : args_(args) {}

  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    const CancelFlag& cancel = control.cancel_flag();
    RETURN_IF_ERROR(ValidateShardRange(args_.domain(), range));
    RETURN_IF_ERROR(SleepUnlessCancelled(args_.ms, cancel));
    return EncodeCount(1);
  }

 private:
  const SleepArgs args_;
};

KernelInfo SleepKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary = "sleep MS milliseconds in every shard (for testing)";
  info.params = SleepParams();
  SetKernelSides<SleepJob, SleepRunner>(ParseSleepArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(sleep, SleepKernelInfo);

}  // namespace shardex
