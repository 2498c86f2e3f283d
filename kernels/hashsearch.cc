// Kernel "hashsearch": proof-of-work search for the smallest nonce n in
// [0, --max-nonce) such that SHA-256(prefix + decimal(n)) starts with --bits
// zero bits.
//
// Shards scan their range upwards and stop at their first hit, which is the
// smallest in their range. Such a payload makes every shard beginning above
// the hit useless, so Cutoff lets the coordinator skip them; Reduce takes the
// smallest hit over the shards that ran, which is the smallest overall.
// Thread-safety: HashSearchJob and HashSearchRunner are immutable; RunShard,
// Cutoff and Reduce may run concurrently (each hash works on its own copy of
// the prefix state).
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "kernels/args.h"
#include "kernels/kernel.h"
#include "kernels/payload.h"
#include "kernels/split.h"

namespace shardex {
namespace {

constexpr char kName[] = "hashsearch";
constexpr uint64_t kMaxBits = 64;

// 8.5-15 M hashes/s per core (SHA-NI; see docs/kernels.md): 2^16 hashes
// are 4-8 ms between cancel polls.
constexpr uint64_t kPollInterval = uint64_t{1} << 16;

// Shard-size floor: 2^20 hashes take 0.07-0.12 s. Smaller shards would spend a
// noticeable share of their time on the coordinator round trip, and a search
// that short needs no parallelism anyway.
constexpr uint64_t kMinShardSize = uint64_t{1} << 20;

// Ceiling on the default shard count: a user's huge --max-nonce must not turn
// into billions of shards of per-shard bookkeeping on the coordinator.
constexpr uint64_t kMaxDefaultShards = 100'000;

// Payloads: "found:<nonce>" (the shard's smallest hit), "none" (no hit in
// the shard) or "" (the coordinator skipped the shard after a cutoff).
constexpr absl::string_view kFoundTag = "found:";
constexpr absl::string_view kNone = "none";

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

std::vector<KernelParam> HashSearchParams() {
  return {
      {"prefix", "bytes hashed before the decimal nonce (may be empty)", "",
       true},
      {"bits", "leading zero bits the hash needs, 1 to 64", "", true},
      {"max-nonce",
       "search nonces < MAX_NONCE (default 2^min(63, BITS+8), which almost "
       "surely holds an answer)",
       "", false},
  };
}

// The decimal text of a counter, incremented in place: formatting every
// nonce afresh would cost a noticeable share of a 65-120 ns hash.
class DecimalCounter {
 public:
  explicit DecimalCounter(uint64_t value) {
    do {
      digits_[--start_] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
  }

  absl::string_view text() const {
    return absl::string_view(digits_ + start_, kMaxDigits - start_);
  }

  // The caller never counts past 2^64-1, which has 20 digits, so the
  // buffer cannot run out.
  void Increment() {
    size_t i = kMaxDigits;
    while (i > start_ && digits_[i - 1] == '9') digits_[--i] = '0';
    if (i == start_) {
      digits_[--start_] = '1';
    } else {
      ++digits_[i - 1];
    }
  }

 private:
  static constexpr size_t kMaxDigits = 20;
  char digits_[kMaxDigits];
  size_t start_ = kMaxDigits;
};

// SHA-256 of prefix + suffix for many suffixes. The prefix is absorbed once;
// each hash copies that state and adds only the suffix.
//
// OpenSSL 3 deprecates SHA256_Init/Update/Final in favour of EVP, but
// EVP_MD_CTX_copy_ex goes through the provider layer on every copy: 10.9 M
// hashes/s against 15.4 M/s for a plain struct copy of SHA256_CTX (one-block
// messages, one core, same SHA-NI code underneath). The deprecation warning
// is silenced for this class only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
class PrefixHasher {
 public:
  explicit PrefixHasher(absl::string_view prefix) {
    SHA256_Init(&prefix_state_);
    SHA256_Update(&prefix_state_, prefix.data(), prefix.size());
  }

  void Hash(absl::string_view suffix, Digest* out) const {
    SHA256_CTX ctx = prefix_state_;
    SHA256_Update(&ctx, suffix.data(), suffix.size());
    SHA256_Final(out->data(), &ctx);
  }

 private:
  SHA256_CTX prefix_state_;
};
#pragma GCC diagnostic pop

// Mask over the first 8 digest bytes (big-endian) that must be all zero.
uint64_t LeadingBitsMask(uint64_t bits) { return ~uint64_t{0} << (64 - bits); }

uint64_t FirstEightBytes(const Digest& d) {
  uint64_t head = 0;
  for (int i = 0; i < 8; ++i) head = (head << 8) | d[i];
  return head;
}

// What one shard's payload says.
struct ShardOutcome {
  enum class Kind { kSkipped, kNone, kFound };
  Kind kind = Kind::kSkipped;
  uint64_t nonce = 0;  // for kFound
};

std::string EncodeOutcome(std::optional<uint64_t> hit) {
  return hit.has_value() ? absl::StrCat(kFoundTag, *hit) : std::string(kNone);
}

absl::StatusOr<ShardOutcome> DecodeOutcome(absl::string_view payload,
                                           size_t index) {
  if (payload.empty()) return ShardOutcome{ShardOutcome::Kind::kSkipped};
  if (payload == kNone) return ShardOutcome{ShardOutcome::Kind::kNone};
  if (!absl::ConsumePrefix(&payload, kFoundTag)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload of shard ", index, " is not 'none' or 'found:<nonce>': '",
        absl::CHexEscape(payload.substr(0, 40)), "'"));
  }
  ASSIGN_OR_RETURN(const uint64_t nonce, DecodeCount(payload, index));
  return ShardOutcome{ShardOutcome::Kind::kFound, nonce};
}

// Default --max-nonce: 2^(bits+8) nonces miss with probability
// (1 - 2^-bits)^(2^(bits+8)) ~ e^-256. Capped at 2^63 to stay in uint64.
uint64_t DefaultMaxNonce(uint64_t bits) {
  return uint64_t{1} << std::min<uint64_t>(63, bits + 8);
}

// Shard size: a quarter of the expected search length 2^bits, so the first
// hit is expected in about the fourth shard. The coordinator hands shards
// out lowest first, so P workers reach it about P times sooner than one,
// while the work wasted past the answer (shards in flight when the cutoff
// arrives) stays below P quarter-searches. With the default --max-nonce
// this makes 2^(bits+8) / 2^(bits-2) = 1024 shards. Bounded below by
// kMinShardSize (small searches) and above so that any --max-nonce gives at
// most kMaxDefaultShards shards.
uint64_t ShardSizeHint(uint64_t bits, uint64_t max_nonce) {
  const uint64_t quarter_search = uint64_t{1}
                                  << (bits - std::min<uint64_t>(bits, 2));
  const uint64_t for_max_shards =
      max_nonce / kMaxDefaultShards + (max_nonce % kMaxDefaultShards != 0);
  return std::max({quarter_search, kMinShardSize, for_max_shards});
}

// The validated arguments; both sides are built from them.
struct HashSearchArgs {
  std::string prefix;
  uint64_t bits = 0;
  uint64_t max_nonce = 0;

  Domain domain() const {
    return Domain{Domain::Kind::kRange, 0, max_nonce,
                  ShardSizeHint(bits, max_nonce)};
  }
};

// What both sides hash with: the prefix, absorbed once, and the mask of
// bits that must be zero. The worker searches with it; the coordinator
// checks reported hits with it.
class HashTarget {
 public:
  explicit HashTarget(const HashSearchArgs& args)
      : max_nonce_(args.max_nonce),
        mask_(LeadingBitsMask(args.bits)),
        hasher_(args.prefix) {}

  void Hash(absl::string_view suffix, Digest* out) const {
    hasher_.Hash(suffix, out);
  }

  bool Hits(const Digest& digest) const {
    return (FirstEightBytes(digest) & mask_) == 0;
  }

  Digest HashOf(uint64_t nonce) const {
    Digest digest;
    hasher_.Hash(absl::StrCat(nonce), &digest);
    return digest;
  }

  bool IsHit(uint64_t nonce) const {
    return nonce < max_nonce_ && Hits(HashOf(nonce));
  }

 private:
  const uint64_t max_nonce_;
  const uint64_t mask_;
  const PrefixHasher hasher_;
};

class HashSearchJob final : public KernelJob {
 public:
  explicit HashSearchJob(HashSearchArgs args)
      : args_(std::move(args)), target_(args_) {}

  Domain domain() const override { return args_.domain(); }
  // Its runner takes its range by ShardControl::Claim.
  bool splittable() const override { return true; }

  // A hit at X rules out every shard beginning above X. The hit is checked
  // first (one hash), so a corrupt payload cannot make the coordinator skip
  // shards that may hold the answer.
  std::optional<uint64_t> Cutoff(const std::string& payload) const override {
    absl::StatusOr<ShardOutcome> outcome = DecodeOutcome(payload, 0);
    if (!outcome.ok() || outcome->kind != ShardOutcome::Kind::kFound ||
        !target_.IsHit(outcome->nonce)) {
      return std::nullopt;
    }
    return outcome->nonce + 1;  // nonce < max_nonce <= 2^64-1: no overflow
  }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    return ReduceRanges(payloads, EvenRanges(domain(), payloads.size()));
  }

  absl::StatusOr<KernelResult> ReduceRanges(
      absl::Span<const std::string> payloads,
      absl::Span<const ShardRange> ranges) const override {
    if (payloads.empty()) {
      return absl::InvalidArgumentError("no shard payloads to reduce");
    }
    if (payloads.size() != ranges.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(payloads.size(), " shard payloads for ", ranges.size(),
                       " ranges"));
    }
    RETURN_IF_ERROR(ValidateShardCount(domain(), payloads.size(),
                                       std::numeric_limits<uint64_t>::max()));
    std::optional<uint64_t> best;
    std::optional<size_t> first_skipped;
    for (size_t i = 0; i < payloads.size(); ++i) {
      ASSIGN_OR_RETURN(const ShardOutcome outcome,
                       DecodeOutcome(payloads[i], i));
      const ShardRange range = ranges[i];
      if (outcome.kind == ShardOutcome::Kind::kSkipped) {
        if (!first_skipped.has_value()) first_skipped = i;
      } else if (outcome.kind == ShardOutcome::Kind::kFound) {
        RETURN_IF_ERROR(CheckHitInShard(outcome.nonce, range, i));
        if (!best.has_value() || outcome.nonce < *best) best = outcome.nonce;
      }
    }
    RETURN_IF_ERROR(CheckSkipsAreAboveAnswer(ranges, first_skipped, best));
    if (!best.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("no nonce below max-nonce ", args_.max_nonce,
                       " gives a SHA-256 with ", args_.bits,
                       " leading zero bits for prefix '",
                       absl::CHexEscape(args_.prefix), "'"));
    }
    return Result(*best);
  }

 private:
  // A shard can only report a hit inside its own range, and a hit must be
  // one: anything else is a corrupt payload.
  absl::Status CheckHitInShard(uint64_t nonce, ShardRange range,
                               size_t index) const {
    if (nonce < range.begin || nonce >= range.end) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shard ", index, " reports nonce ", nonce, " outside its range [",
          range.begin, ", ", range.end, ")"));
    }
    if (!target_.IsHit(nonce)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shard ", index, " reports nonce ", nonce, ", whose hash ",
          absl::BytesToHexString(absl::string_view(
              reinterpret_cast<const char*>(target_.HashOf(nonce).data()),
              SHA256_DIGEST_LENGTH)),
          " lacks ", args_.bits, " leading zero bits"));
    }
    return absl::OkStatus();
  }

  // Shards are skipped only above a hit. A skipped shard at or below the
  // smallest hit could hide a smaller one, so the answer would be unproven.
  absl::Status CheckSkipsAreAboveAnswer(absl::Span<const ShardRange> ranges,
                                        std::optional<size_t> first_skipped,
                                        std::optional<uint64_t> best) const {
    if (!first_skipped.has_value()) return absl::OkStatus();
    const ShardRange skipped = ranges[*first_skipped];
    if (!best.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard ", *first_skipped,
                       " was skipped, yet no shard found a nonce"));
    }
    if (skipped.begin <= *best) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shard ", *first_skipped, " [", skipped.begin, ", ", skipped.end,
          ") was skipped, yet it does not lie above the nonce found, ", *best));
    }
    return absl::OkStatus();
  }

  KernelResult Result(uint64_t nonce) const {
    const Digest digest = target_.HashOf(nonce);
    KernelResult result;
    result.value = absl::StrCat(nonce);
    result.details["hash"] = absl::BytesToHexString(absl::string_view(
        reinterpret_cast<const char*>(digest.data()), digest.size()));
    result.details["prefix"] = args_.prefix;
    result.details["bits"] = absl::StrCat(args_.bits);
    result.details["max_nonce"] = absl::StrCat(args_.max_nonce);
    return result;
  }

  const HashSearchArgs args_;
  const HashTarget target_;
};

class HashSearchRunner final : public ShardRunner {
 public:
  explicit HashSearchRunner(HashSearchArgs args)
      : args_(std::move(args)), target_(args_) {}

  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    RETURN_IF_ERROR(ValidateShardRange(args_.domain(), range));
    ASSIGN_OR_RETURN(const std::optional<uint64_t> hit,
                     FirstHit(range, control));
    return EncodeOutcome(hit);
  }
  bool splittable() const override { return true; }

 private:
  // The smallest hit in [r.begin, control.end()), nullopt if there is none,
  // or CANCELLED. Chunks are claimed in order and the scan stops at the
  // first hit, so a split run finds what an unsplit run over the range it
  // covered would.
  absl::StatusOr<std::optional<uint64_t>> FirstHit(
      ShardRange r, ShardControl& control) const {
    DecimalCounter digits(r.begin);
    Digest digest;
    for (uint64_t pos = r.begin;;) {
      if (control.cancelled()) {
        return absl::CancelledError("hashsearch cancelled");
      }
      const std::optional<ShardRange> c = control.Claim(pos, kPollInterval);
      if (!c.has_value()) break;
      for (uint64_t n = c->begin; n < c->end; ++n) {
        target_.Hash(digits.text(), &digest);
        if (target_.Hits(digest)) return n;
        digits.Increment();  // n+1 <= r.end <= 2^64-1
      }
      pos = c->end;
    }
    return std::nullopt;
  }

  const HashSearchArgs args_;
  const HashTarget target_;
};

absl::StatusOr<HashSearchArgs> ParseHashSearchArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, HashSearchParams(), args));
  HashSearchArgs a;
  a.prefix = resolved.at("prefix");
  ASSIGN_OR_RETURN(a.bits, GetUint64Arg(resolved, "bits", 0));
  RETURN_IF_ERROR(CheckArgRange("bits", a.bits, 1, kMaxBits));
  ASSIGN_OR_RETURN(a.max_nonce, GetUint64Arg(resolved, "max-nonce",
                                             DefaultMaxNonce(a.bits)));
  RETURN_IF_ERROR(CheckArgRange("max-nonce", a.max_nonce, 1,
                                std::numeric_limits<uint64_t>::max()));
  return a;
}

KernelInfo HashSearchKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary =
      "smallest nonce whose SHA-256(PREFIX + nonce) has BITS leading zero "
      "bits (proof of work)";
  info.params = HashSearchParams();
  SetKernelSides<HashSearchJob, HashSearchRunner>(ParseHashSearchArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(hashsearch, HashSearchKernelInfo);

}  // namespace shardex
