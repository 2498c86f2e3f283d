// ShardRefKey: a (job, shard, attempt) triple usable as a map or set key,
// for the places that index attempts by their wire name (ShardRef).
//
// Thread-safety: plain values.
#ifndef SHARDEX_COMMON_SHARD_REF_KEY_H_
#define SHARDEX_COMMON_SHARD_REF_KEY_H_

#include <cstdint>
#include <tuple>
#include <utility>

#include "proto/shardex.pb.h"

namespace shardex {

// (job, shard): a shard, whatever the attempt.
using ShardKey = std::pair<uint64_t, uint64_t>;
// (job, shard, attempt): one attempt.
using ShardRefKey = std::tuple<uint64_t, uint64_t, uint32_t>;

inline ShardRefKey KeyOf(const shardex::v1::ShardRef& ref) {
  return {ref.job_id(), ref.shard(), ref.attempt()};
}

inline shardex::v1::ShardRef RefOf(const ShardRefKey& key) {
  shardex::v1::ShardRef ref;
  ref.set_job_id(std::get<0>(key));
  ref.set_shard(std::get<1>(key));
  ref.set_attempt(std::get<2>(key));
  return ref;
}

}  // namespace shardex

#endif  // SHARDEX_COMMON_SHARD_REF_KEY_H_
