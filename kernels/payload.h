// Shard payload encoding for kernels whose partial result is a count
// (primes, pi, sleep): the count as plain decimal text, so payloads are
// readable in logs and the reduce is an exact integer sum.
//
// Thread-safety: stateless free functions; safe from any thread.
#ifndef SHARDEX_KERNELS_PAYLOAD_H_
#define SHARDEX_KERNELS_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace shardex {

// "0", "42", ...: decimal, no sign, no leading zeros.
std::string EncodeCount(uint64_t count);

// Parses what EncodeCount wrote. `index` is the payload's shard, for the
// INVALID_ARGUMENT message on anything else (empty, signs, spaces, overflow).
absl::StatusOr<uint64_t> DecodeCount(absl::string_view payload, size_t index);

// The exact sum of every payload. INVALID_ARGUMENT if there are no payloads
// (every job has at least one shard), one does not decode, or the sum
// overflows uint64 (only corrupt payloads can do that).
absl::StatusOr<uint64_t> SumCounts(absl::Span<const std::string> payloads);

}  // namespace shardex

#endif  // SHARDEX_KERNELS_PAYLOAD_H_
