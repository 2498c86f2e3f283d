#include "kernels/payload.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace shardex {
namespace {

absl::Status BadPayload(absl::string_view payload, size_t index) {
  return absl::InvalidArgumentError(
      absl::StrCat("payload of shard ", index, " is not a decimal count: '",
                   absl::CHexEscape(payload.substr(0, 40)), "'"));
}

}  // namespace

std::string EncodeCount(uint64_t count) { return absl::StrCat(count); }

absl::StatusOr<uint64_t> DecodeCount(absl::string_view payload, size_t index) {
  // Strict: exactly what EncodeCount produces, so a corrupted payload cannot
  // be misread as a plausible count.
  const bool leading_zero = payload.size() > 1 && payload.front() == '0';
  if (payload.empty() || leading_zero) return BadPayload(payload, index);
  uint64_t value = 0;
  for (char c : payload) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
        __builtin_mul_overflow(value, uint64_t{10}, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(c - '0'), &value)) {
      return BadPayload(payload, index);
    }
  }
  return value;
}

absl::StatusOr<uint64_t> SumCounts(absl::Span<const std::string> payloads) {
  if (payloads.empty()) {
    return absl::InvalidArgumentError("no shard payloads to reduce");
  }
  uint64_t sum = 0;
  for (size_t i = 0; i < payloads.size(); ++i) {
    ASSIGN_OR_RETURN(const uint64_t count, DecodeCount(payloads[i], i));
    if (__builtin_add_overflow(sum, count, &sum)) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard payloads overflow uint64 at shard ", i));
    }
  }
  return sum;
}

}  // namespace shardex
