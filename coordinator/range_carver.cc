#include "coordinator/range_carver.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace shardex {
namespace {

// Before any result: shards of remaining / (kProbeSplit x slots), small
// enough that the first measurement comes early, big enough to measure.
constexpr uint64_t kProbeSplit = 32;
// Near the end: remaining / (kTailSplit x slots) per shard (factoring).
constexpr uint64_t kTailSplit = 2;
// The smallest shard, as a share of the target run time.
constexpr double kMinShareOfTarget = 1.0 / 50;
// Weight kept by the earlier results at each new one.
constexpr double kForget = 0.8;

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace

RangeCarver::RangeCarver(uint64_t lo, uint64_t hi, Options options)
    : options_(options) {
  if (lo < hi) {
    gaps_[lo] = hi;
    remaining_ = hi - lo;
  }
}

void RangeCarver::Remove(ShardRange r) {
  if (r.begin >= r.end) return;
  // The gaps that overlap [r.begin, r.end): from the one before r.begin.
  auto it = gaps_.upper_bound(r.begin);
  if (it != gaps_.begin()) --it;
  while (it != gaps_.end() && it->first < r.end) {
    const uint64_t b = it->first, e = it->second;
    if (e <= r.begin) {
      ++it;
      continue;
    }
    it = gaps_.erase(it);
    remaining_ -= e - b;
    if (b < r.begin) {
      gaps_[b] = r.begin;
      remaining_ += r.begin - b;
    }
    if (r.end < e) {
      it = gaps_.emplace(r.end, e).first;
      remaining_ += e - r.end;
      ++it;
    }
  }
}

uint64_t RangeCarver::TruncateAt(uint64_t cutoff) {
  const uint64_t before = remaining_;
  Remove({cutoff, UINT64_MAX});
  return before - remaining_;
}

void RangeCarver::Observe(uint64_t units, uint64_t runtime_us) {
  if (units == 0) return;
  observed_us_ = kForget * observed_us_ + static_cast<double>(runtime_us);
  observed_units_ = kForget * observed_units_ + static_cast<double>(units);
  // A shard that took no measurable time still says "cheap".
  cost_ = std::max(observed_us_, 1.0) / observed_units_;
}

uint64_t RangeCarver::NextSize(uint64_t slots, uint64_t carved) const {
  slots = std::max<uint64_t>(slots, 1);
  const uint64_t rest = remaining_;
  if (rest == 0) return 0;
  uint64_t size;
  if (cost_ < 0) {
    size = CeilDiv(rest, kProbeSplit * slots);
  } else {
    const double target_us = absl::ToDoubleMicroseconds(options_.target);
    const double by_time = target_us / cost_;
    const double tail = static_cast<double>(rest) / (kTailSplit * slots);
    const double floor_units = target_us * kMinShareOfTarget / cost_;
    const double units = std::max(std::min(by_time, tail), floor_units);
    size = units >= static_cast<double>(rest)
               ? rest
               : static_cast<uint64_t>(std::ceil(units));
  }
  if (options_.max_shards > 0) {
    // Leave room for the rest within max_shards (one shard per slot at
    // least, so the limit never stalls a job).
    const uint64_t left =
        options_.max_shards > carved ? options_.max_shards - carved : 1;
    size = std::max(size, CeilDiv(rest, left));
  }
  if (options_.max_size > 0) size = std::min(size, options_.max_size);
  return std::clamp<uint64_t>(size, 1, rest);
}

std::optional<ShardRange> RangeCarver::Next(uint64_t slots, uint64_t carved) {
  if (gaps_.empty()) return std::nullopt;
  const uint64_t size = NextSize(slots, carved);
  auto first = gaps_.begin();
  const uint64_t begin = first->first, end = first->second;
  const uint64_t cut = std::min(size, end - begin);
  gaps_.erase(first);
  if (begin + cut < end) gaps_.emplace(begin + cut, end);
  remaining_ -= cut;
  return ShardRange{begin, begin + cut};
}

}  // namespace shardex
