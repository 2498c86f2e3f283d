#include "coordinator/shard_batch_codec.h"

#include "absl/strings/str_cat.h"

namespace shardex {

namespace {

constexpr int kMaxVarintBytes = 10;  // ceil(64 / 7)

void AppendVarint(uint64_t v, std::string* out) {
  char buf[kMaxVarintBytes];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Reads a varint at *pos, advancing it; false if the bytes end first or
// the value does not fit 64 bits.
bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (*pos >= in.size()) return false;
    const uint8_t byte = static_cast<uint8_t>(in[(*pos)++]);
    // The 10th byte holds bit 63 only.
    if (i == kMaxVarintBytes - 1 && byte > 1) return false;
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace

void AppendShardEntry(uint64_t shard, absl::string_view payload,
                      std::string* batch) {
  AppendVarint(shard, batch);
  AppendVarint(payload.size(), batch);
  batch->append(payload.data(), payload.size());
}

void AppendRangedShardEntry(uint64_t shard, uint64_t begin, uint64_t end,
                            absl::string_view payload, std::string* batch) {
  std::string header;
  AppendVarint(begin, &header);
  AppendVarint(end, &header);
  AppendVarint(shard, batch);
  AppendVarint(header.size() + payload.size(), batch);
  batch->append(header);
  batch->append(payload.data(), payload.size());
}

absl::Status SplitRangedPayload(absl::string_view entry, uint64_t* begin,
                                uint64_t* end, absl::string_view* payload) {
  size_t pos = 0;
  if (!ReadVarint(entry, &pos, begin) || !ReadVarint(entry, &pos, end) ||
      *begin >= *end) {
    return absl::DataLossError(absl::StrCat(
        "an adaptive shard's entry of ", entry.size(),
        " bytes does not start with a non-empty range"));
  }
  *payload = entry.substr(pos);
  return absl::OkStatus();
}

absl::Status DecodeShardBatch(
    absl::string_view batch,
    std::vector<std::pair<uint64_t, std::string>>* out) {
  size_t pos = 0;
  while (pos < batch.size()) {
    const size_t entry = pos;
    uint64_t shard = 0;
    uint64_t size = 0;
    if (!ReadVarint(batch, &pos, &shard) || !ReadVarint(batch, &pos, &size) ||
        size > batch.size() - pos) {
      return absl::DataLossError(absl::StrCat(
          "shard batch of ", batch.size(), " bytes: the entry at offset ",
          entry, " is cut short or malformed"));
    }
    out->emplace_back(shard, std::string(batch.substr(pos, size)));
    pos += size;
  }
  return absl::OkStatus();
}

}  // namespace shardex
