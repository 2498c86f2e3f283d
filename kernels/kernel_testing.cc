#include "kernels/kernel_testing.h"

#include <limits>
#include <utility>

#include "common/status_macros.h"
#include "kernels/split.h"

namespace shardex {
namespace testing {

absl::StatusOr<std::vector<std::string>> RunAllShards(const KernelJob& job,
                                                      uint64_t shards) {
  const Domain domain = job.domain();
  RETURN_IF_ERROR(
      ValidateShardCount(domain, shards, std::numeric_limits<uint64_t>::max()));
  const CancelFlag not_cancelled{false};
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < shards; ++i) {
    ASSIGN_OR_RETURN(
        std::string payload,
        job.RunShard(ShardRangeOf(domain, shards, i), not_cancelled));
    payloads.push_back(std::move(payload));
  }
  return payloads;
}

absl::StatusOr<KernelResult> RunJob(const KernelJob& job, uint64_t shards) {
  ASSIGN_OR_RETURN(const std::vector<std::string> payloads,
                   RunAllShards(job, shards));
  return job.Reduce(payloads);
}

}  // namespace testing
}  // namespace shardex
