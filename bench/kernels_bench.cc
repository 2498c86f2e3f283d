// Single-thread throughput of the pi and primes kernels through RunShard,
// the way a worker slot runs them:
//   bazel run //bench:kernels_bench [-- PI_SAMPLES [PRIMES_TO [SHARDS]]]
// Compare primes with `primesieve PRIMES_TO -t1`.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/args.h"
#include "kernels/kernel.h"
#include "kernels/split.h"

namespace shardex {
namespace {

// Runs every shard of `domain` in turn on this thread; returns seconds, or
// -1 on error.
double TimeShards(const ShardRunner& runner, const Domain& domain,
                  uint64_t shards) {
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < shards; ++i) {
    absl::StatusOr<std::string> payload =
        RunWholeShard(runner, ShardRangeOf(domain, shards, i));
    if (!payload.ok()) {
      std::fprintf(stderr, "%s\n", payload.status().ToString().c_str());
      return -1;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int Run(int argc, char** argv) {
  const std::string samples = argc > 1 ? argv[1] : "2e9";
  const std::string to = argc > 2 ? argv[2] : "1e10";
  const std::string shard_text = argc > 3 ? argv[3] : "1";
  absl::StatusOr<uint64_t> shards = ParseUint64Arg("shards", shard_text);
  const KernelArgs pi_args = {{"samples", samples}, {"seed", "1"}};
  const KernelArgs primes_args = {{"to", to}};
  absl::StatusOr<std::unique_ptr<KernelJob>> pi =
      CreateKernelJob("pi", pi_args);
  absl::StatusOr<std::unique_ptr<ShardRunner>> pi_runner =
      CreateShardRunner("pi", pi_args);
  absl::StatusOr<std::unique_ptr<KernelJob>> primes =
      CreateKernelJob("primes", primes_args);
  absl::StatusOr<std::unique_ptr<ShardRunner>> primes_runner =
      CreateShardRunner("primes", primes_args);
  for (const absl::Status& s :
       {shards.status(), pi.status(), pi_runner.status(), primes.status(),
        primes_runner.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 2;
    }
  }
  const double pi_s = TimeShards(**pi_runner, (*pi)->domain(), *shards);
  const double n = static_cast<double>((*pi)->domain().hi);
  std::printf("pi:     %s samples in %.3f s = %.0f M samples/s\n",
              samples.c_str(), pi_s, n / pi_s / 1e6);
  const double primes_s =
      TimeShards(**primes_runner, (*primes)->domain(), *shards);
  std::printf("primes: [0, %s) in %.3f s\n", to.c_str(), primes_s);
  return (pi_s < 0 || primes_s < 0) ? 1 : 0;
}

}  // namespace
}  // namespace shardex

int main(int argc, char** argv) { return shardex::Run(argc, argv); }
