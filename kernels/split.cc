#include "kernels/split.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace shardex {
namespace {

// hi - lo, or 0 for a malformed domain with hi < lo.
uint64_t Width(const Domain& d) { return d.hi > d.lo ? d.hi - d.lo : 0; }

// lo + width*k/n without overflow: width*k needs up to 128 bits.
uint64_t SplitPoint(const Domain& d, uint64_t n, uint64_t k) {
  const unsigned __int128 offset =
      static_cast<unsigned __int128>(Width(d)) * k / n;
  return d.lo + static_cast<uint64_t>(offset);  // offset <= width
}

}  // namespace

ShardRange ShardRangeOf(const Domain& d, uint64_t shards, uint64_t index) {
  if (d.kind == Domain::Kind::kTasks) {
    if (shards == 0 || index >= shards) return ShardRange{shards, shards};
    return ShardRange{index, index + 1};
  }
  if (shards == 0 || index >= shards) return ShardRange{d.hi, d.hi};
  return ShardRange{SplitPoint(d, shards, index),
                    SplitPoint(d, shards, index + 1)};
}

absl::Status ValidateShardCount(const Domain& d, uint64_t shards,
                                uint64_t max_shards) {
  if (shards == 0) {
    return absl::InvalidArgumentError("--shards must be at least 1");
  }
  if (shards > max_shards) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shards ", shards, " exceeds the maximum of ", max_shards));
  }
  if (d.kind == Domain::Kind::kTasks && d.hi > 0 && shards != d.hi) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shards ", shards, ": this job has exactly ", d.hi,
        " shards (one per input)"));
  }
  if (d.kind == Domain::Kind::kRange &&
      shards > std::max<uint64_t>(1, Width(d))) {
    const uint64_t width = Width(d);
    return absl::InvalidArgumentError(absl::StrCat(
        "--shards ", shards, " exceeds the ", width,
        width == 1 ? " number" : " numbers", " in [", d.lo, ", ", d.hi, ")"));
  }
  return absl::OkStatus();
}

std::vector<ShardRange> EvenRanges(const Domain& d, uint64_t shards) {
  std::vector<ShardRange> ranges;
  ranges.reserve(shards);
  for (uint64_t i = 0; i < shards; ++i) ranges.push_back(ShardRangeOf(d, shards, i));
  return ranges;
}

uint64_t DefaultShardCount(const Domain& d, uint64_t cluster_slots) {
  if (d.kind == Domain::Kind::kTasks) {
    return d.hi > 0 ? d.hi : std::max<uint64_t>(cluster_slots, 1);
  }
  uint64_t wanted = 0;
  if (d.shard_size_hint > 0) {
    wanted = Width(d) / d.shard_size_hint + (Width(d) % d.shard_size_hint != 0);
  } else if (__builtin_mul_overflow(cluster_slots, uint64_t{4}, &wanted)) {
    wanted = std::numeric_limits<uint64_t>::max();
  }
  return std::clamp<uint64_t>(wanted, 1, std::max<uint64_t>(1, Width(d)));
}

absl::Status ValidateShardRange(const Domain& d, ShardRange r) {
  if (d.kind == Domain::Kind::kTasks) {
    if (r.end > r.begin && r.end - r.begin == 1) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        "shard [", r.begin, ", ", r.end, ") is not a single task"));
  }
  if (d.lo <= r.begin && r.begin <= r.end && r.end <= d.hi) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("shard [", r.begin, ", ",
                                                 r.end, ") is not within [",
                                                 d.lo, ", ", d.hi, ")"));
}

}  // namespace shardex
