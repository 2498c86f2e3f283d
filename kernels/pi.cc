// Kernel "pi": Monte Carlo estimate of pi from --samples points in the unit
// square, counting those inside the quarter circle.
//
// Sample i depends only on (seed, i) through a counter-based generator, and
// all arithmetic is on integers, so the answer is bit-identical for any shard
// count, placement or retry. An absent --seed means seed 0 here (the
// coordinator normally fills in a random one before the job reaches this
// kernel).
// Thread-safety: PiJob and PiRunner are immutable.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "kernels/args.h"
#include "kernels/kernel.h"
#include "kernels/payload.h"
#include "kernels/split.h"

namespace shardex {
namespace {

constexpr char kName[] = "pi";

// SplitMix64's increment (2^64 / golden ratio).
constexpr uint64_t kGamma = 0x9e3779b97f4a7c15;

// 2^20 samples take ~2 ms, so cancellation is noticed within milliseconds.
constexpr uint64_t kBlock = uint64_t{1} << 20;

// Coordinates are 31-bit integers in [0, 2^31); the point is inside when
// x^2 + y^2 < (2^31)^2. Both squares are < 2^62, so the sum fits in 64 bits.
constexpr uint64_t kCoordMask = (uint64_t{1} << 31) - 1;
constexpr uint64_t kRadiusSquared = uint64_t{1} << 62;

std::vector<KernelParam> PiParams() {
  return {
      {"samples", "number of random points (at least 1)", "", true},
      {"seed", "random seed (default: a random one, shown in the result)",
       "", false, /*random_if_absent=*/true},
  };
}

// SplitMix64's output function: a bijective 64-bit mixer.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// Mixing the seed spreads nearby seeds (0, 1, 2, ...) across the whole
// counter space instead of making their streams shifted copies.
uint64_t KeyForSeed(uint64_t seed) { return Mix64(seed + kGamma); }

// Samples i in [begin, end) that land inside the quarter circle, where sample
// i is Mix64(key + (i+1)*kGamma) split into x (top 31 bits) and y (low 31).
// Kept branch-free so the loop runs at several hundred million samples/s.
uint64_t CountInside(uint64_t key, uint64_t begin, uint64_t end) {
  uint64_t z = key + (begin + 1) * kGamma;  // wraps mod 2^64 by design
  uint64_t inside = 0;
  for (uint64_t i = begin; i < end; ++i) {
    const uint64_t r = Mix64(z);
    z += kGamma;
    const uint64_t x = r >> 33;
    const uint64_t y = r & kCoordMask;
    inside += (x * x + y * y < kRadiusSquared) ? 1 : 0;
  }
  return inside;
}

// 4*inside/samples with exactly 10 decimals, rounded half up. Computed in
// 128-bit integers (4 * 2^64 * 2*10^10 < 2^101) so it never depends on
// floating-point behaviour.
std::string FormatEstimate(uint64_t inside, uint64_t samples) {
  constexpr uint64_t kScale = 10'000'000'000;  // 10^10
  const unsigned __int128 numerator =
      static_cast<unsigned __int128>(inside) * 4 * kScale * 2 + samples;
  const unsigned __int128 scaled =
      numerator / (static_cast<unsigned __int128>(samples) * 2);
  const auto whole = static_cast<uint64_t>(scaled / kScale);
  const auto fraction = static_cast<uint64_t>(scaled % kScale);
  return absl::StrFormat("%d.%010d", whole, fraction);
}

// The validated arguments; both sides are built from them.
struct PiArgs {
  uint64_t samples = 0;
  uint64_t seed = 0;

  Domain domain() const { return Domain{Domain::Kind::kRange, 0, samples}; }
};

absl::StatusOr<PiArgs> ParsePiArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, PiParams(), args));
  PiArgs a;
  ASSIGN_OR_RETURN(a.samples, GetUint64Arg(resolved, "samples", 0));
  RETURN_IF_ERROR(CheckArgRange("samples", a.samples, 1, UINT64_MAX));
  ASSIGN_OR_RETURN(a.seed, GetUint64Arg(resolved, "seed", 0));
  return a;
}

class PiJob final : public KernelJob {
 public:
  explicit PiJob(PiArgs args) : args_(args) {}

  Domain domain() const override { return args_.domain(); }
  // Its runner takes its range by ShardControl::Claim.
  bool splittable() const override { return true; }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    ASSIGN_OR_RETURN(const uint64_t inside, SumCounts(payloads));
    if (inside > args_.samples) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shards report ", inside, " points inside out of ", args_.samples));
    }
    KernelResult result;
    result.value = FormatEstimate(inside, args_.samples);
    result.details["samples"] = absl::StrCat(args_.samples);
    result.details["inside"] = absl::StrCat(inside);
    result.details["seed"] = absl::StrCat(args_.seed);
    return result;
  }

 private:
  const PiArgs args_;
};

class PiRunner final : public ShardRunner {
 public:
  explicit PiRunner(PiArgs args) : args_(args), key_(KeyForSeed(args.seed)) {}

  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    RETURN_IF_ERROR(ValidateShardRange(args_.domain(), range));
    // Blocks are claimed from the control, so the worker may split the
    // shard; a sample depends only on its index, so any cut gives the count
    // an unsplit run over [range.begin, control.end()) would.
    uint64_t inside = 0;
    for (uint64_t begin = range.begin;;) {
      if (control.cancelled()) {
        return absl::CancelledError("pi shard cancelled");
      }
      const std::optional<ShardRange> block = control.Claim(begin, kBlock);
      if (!block.has_value()) break;
      inside += CountInside(key_, block->begin, block->end);
      begin = block->end;
    }
    return EncodeCount(inside);
  }
  bool splittable() const override { return true; }

 private:
  const PiArgs args_;
  const uint64_t key_;
};

KernelInfo PiKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary = "estimate pi from SAMPLES random points (Monte Carlo)";
  info.params = PiParams();
  SetKernelSides<PiJob, PiRunner>(ParsePiArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(pi, PiKernelInfo);

}  // namespace shardex
