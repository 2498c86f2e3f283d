// The accepted shards of one job from one result batch, as the bytes of a
// single journal record (JournalRecord::Kind::kShardsAccepted): one row per
// batch instead of one per shard is what keeps journaling from costing more
// than the shards themselves when they are trivial.
//
// Format: entries back to back, each
//   varint shard | varint payload length | payload bytes
// (varints are LEB128: 7 bits a byte, low bits first, at most 10 bytes).
// No header and no count: the empty string holds no shards, and batches
// concatenate. The journal's schema version covers the format.
#ifndef SHARDEX_COORDINATOR_SHARD_BATCH_CODEC_H_
#define SHARDEX_COORDINATOR_SHARD_BATCH_CODEC_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shardex {

// Appends one entry to `batch`. Copies `payload` once, into `batch`.
void AppendShardEntry(uint64_t shard, absl::string_view payload,
                      std::string* batch);

// Appends the entries of `batch` to `out`, in their order. DATA_LOSS naming
// the byte offset if `batch` is not a sequence of whole entries (a varint
// longer than 10 bytes or over 64 bits, a length past the end); `out` then
// holds the entries before the bad one.
// Adaptive jobs' shards have no fixed range: their entries carry it, as
// the first bytes of the entry's payload (varint begin | varint end |
// payload). AppendRangedShardEntry writes one; SplitRangedPayload takes
// a decoded entry's payload apart (DATA_LOSS if it is not one).
void AppendRangedShardEntry(uint64_t shard, uint64_t begin, uint64_t end,
                            absl::string_view payload, std::string* batch);
absl::Status SplitRangedPayload(absl::string_view entry, uint64_t* begin,
                                uint64_t* end, absl::string_view* payload);

absl::Status DecodeShardBatch(
    absl::string_view batch,
    std::vector<std::pair<uint64_t, std::string>>* out);

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_SHARD_BATCH_CODEC_H_
