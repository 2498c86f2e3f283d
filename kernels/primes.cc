// Kernel "primes": counts the primes in [--from, --to) with libprimesieve.
//
// Each shard claims its range in chunks (ShardControl::Claim), polling the
// cancel flag between chunks, so the worker can split it; the payload is
// the count over the range covered and the reduce is an exact sum.
// Thread-safety: PrimesJob and PrimesRunner are immutable; libprimesieve's
// count functions may run concurrently from many threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <primesieve.hpp>
#include <string>
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

constexpr char kName[] = "primes";

// 2^28 numbers take ~30 ms to sieve near 1e10, which bounds how long a
// cancelled shard keeps running.
constexpr uint64_t kMinChunk = uint64_t{1} << 28;

std::vector<KernelParam> PrimesParams() {
  return {
      {"from", "count primes >= FROM", "0", false},
      {"to", "count primes < TO (at most 2^64-1)", "", true},
  };
}

// libprimesieve counts with every core by default, but the worker already
// runs one shard per execution slot: each count must use a single thread or
// shards would oversubscribe the machine. The setting is process-global, so
// it is made once, before the first count, by whichever shard comes first.
void UseOneSieveThreadPerShard() {
  static std::once_flag once;
  std::call_once(once, [] { primesieve::set_num_threads(1); });
}

// Every count_primes call sieves the primes up to sqrt(stop) afresh: ~0.4 s
// near 1e18 and ~2 s near 2^64. Chunks at least that long keep this set-up
// below ~15% of the work, at the price of slower cancellation up there.
uint64_t ChunkSize(uint64_t end) {
  const auto root = static_cast<uint64_t>(std::sqrt(static_cast<double>(end)));
  return std::max(kMinChunk, root);
}

// Number of primes in [r.begin, control.end()), or CANCELLED. A count is
// the same whatever the chunks, so a split run equals an unsplit one over
// the range it covered.
absl::StatusOr<uint64_t> CountPrimes(ShardRange r, ShardControl& control) {
  UseOneSieveThreadPerShard();
  const uint64_t chunk = ChunkSize(r.end);
  uint64_t count = 0;
  // libprimesieve reports errors by throwing; shardex code does not use
  // exceptions, so they stop here and become a Status.
  try {
    for (uint64_t begin = r.begin;;) {
      if (control.cancelled()) {
        return absl::CancelledError("primes shard cancelled");
      }
      const std::optional<ShardRange> c = control.Claim(begin, chunk);
      if (!c.has_value()) break;
      count += primesieve::count_primes(c->begin, c->end - 1);  // inclusive
      begin = c->end;
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "primesieve ran out of memory counting [", r.begin, ", ", r.end, ")"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("primesieve: ", e.what()));
  }
  return count;
}

// The validated arguments; both sides are built from them.
struct PrimesArgs {
  uint64_t from = 0;
  uint64_t to = 0;

  Domain domain() const { return Domain{Domain::Kind::kRange, from, to}; }
};

absl::StatusOr<PrimesArgs> ParsePrimesArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, PrimesParams(), args));
  PrimesArgs a;
  ASSIGN_OR_RETURN(a.from, GetUint64Arg(resolved, "from", 0));
  ASSIGN_OR_RETURN(a.to, GetUint64Arg(resolved, "to", 0));
  if (a.from > a.to) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from ", a.from, " must not exceed --to ", a.to));
  }
  // The last number sieved is to-1. primesieve 11 goes up to 2^64-1, so
  // this only fires with an older library that has a lower limit.
  const uint64_t max_stop = primesieve::get_max_stop();
  if (a.to > 0 && a.to - 1 > max_stop) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--to ", a.to, " exceeds primesieve's limit of ", max_stop + 1));
  }
  return a;
}

class PrimesJob final : public KernelJob {
 public:
  explicit PrimesJob(PrimesArgs args) : args_(args) {}

  Domain domain() const override { return args_.domain(); }
  // Its runner takes its range by ShardControl::Claim.
  bool splittable() const override { return true; }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    ASSIGN_OR_RETURN(const uint64_t total, SumCounts(payloads));
    const uint64_t numbers = args_.to - args_.from;
    // A range cannot hold more primes than numbers; more means corruption.
    if (total > numbers) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shards report ", total, " primes in [", args_.from, ", ", args_.to,
          "), which has only ", numbers, " numbers"));
    }
    KernelResult result;
    result.value = absl::StrCat(total);
    result.details["from"] = absl::StrCat(args_.from);
    result.details["to"] = absl::StrCat(args_.to);
    return result;
  }

 private:
  const PrimesArgs args_;
};

class PrimesRunner final : public ShardRunner {
 public:
  explicit PrimesRunner(PrimesArgs args) : args_(args) {}

  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    RETURN_IF_ERROR(ValidateShardRange(args_.domain(), range));
    ASSIGN_OR_RETURN(const uint64_t count, CountPrimes(range, control));
    return EncodeCount(count);
  }
  bool splittable() const override { return true; }

 private:
  const PrimesArgs args_;
};

KernelInfo PrimesKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary = "count the primes in [FROM, TO)";
  info.params = PrimesParams();
  SetKernelSides<PrimesJob, PrimesRunner>(ParsePrimesArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(primes, PrimesKernelInfo);

}  // namespace shardex
