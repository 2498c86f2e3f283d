#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"
#include "kernels/split.h"

namespace shardex {
namespace {

using ::shardex::testing::LocalKernel;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::unique_ptr<LocalKernel> HashSearchJob(const KernelArgs& args) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("hashsearch", args);
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

// Independent oracle: one-shot EVP_Digest of the whole message, formatted
// with std::to_string, zero bits counted one at a time.
std::string Sha256(const std::string& message) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(message.data(), message.size(), md, &len, EVP_sha256(),
                       nullptr),
            1);
  return std::string(reinterpret_cast<const char*>(md), len);
}

int LeadingZeroBits(const std::string& digest) {
  int zeros = 0;
  for (unsigned char byte : digest) {
    for (int bit = 7; bit >= 0; --bit) {
      if ((byte >> bit) & 1) return zeros;
      ++zeros;
    }
  }
  return zeros;
}

bool OracleHit(const std::string& prefix, int bits, uint64_t nonce) {
  return LeadingZeroBits(Sha256(prefix + std::to_string(nonce))) >= bits;
}

std::optional<uint64_t> OracleFirstHit(const std::string& prefix, int bits,
                                       uint64_t begin, uint64_t end) {
  for (uint64_t n = begin; n < end; ++n) {
    if (OracleHit(prefix, bits, n)) return n;
  }
  return std::nullopt;
}

// Runs the job the way the coordinator does with early cutoff: shards in
// the given order, skipping any that begins at or above the lowest cutoff
// seen so far, with an empty payload for each skipped shard.
struct CoordinatorRun {
  absl::StatusOr<KernelResult> result;
  uint64_t skipped = 0;
};

CoordinatorRun RunWithCutoff(const LocalKernel& job, uint64_t shards,
                             const std::vector<uint64_t>& order) {
  const Domain d = job.domain();
  std::vector<std::string> payloads(shards);
  uint64_t cutoff = kMax;
  CoordinatorRun run;
  for (uint64_t i : order) {
    const ShardRange r = ShardRangeOf(d, shards, i);
    if (r.begin >= cutoff) {
      ++run.skipped;
      continue;
    }
    absl::StatusOr<std::string> payload = job.RunShard(r);
    if (!payload.ok()) {
      run.result = payload.status();
      return run;
    }
    payloads[i] = *payload;
    cutoff = std::min(cutoff, job.Cutoff(*payload).value_or(kMax));
  }
  run.result = job.Reduce(payloads);
  return run;
}

std::vector<uint64_t> ScrambledOrder(uint64_t shards, uint64_t seed) {
  std::vector<uint64_t> order(shards);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);  // fixed: failures must reproduce
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

TEST(HashSearchKernelTest, MatchesBruteForceForAnyShardCount) {
  for (const std::string prefix : {"shardex",
                                   "a much longer prefix that "
                                   "spans more than one SHA-256 "
                                   "block of sixty-four bytes"}) {
    for (int bits : {8, 12, 16}) {
      const std::optional<uint64_t> want =
          OracleFirstHit(prefix, bits, 0, uint64_t{1} << (bits + 8));
      ASSERT_TRUE(want.has_value());
      std::unique_ptr<LocalKernel> job =
          HashSearchJob({{"prefix", prefix}, {"bits", std::to_string(bits)}});
      ASSERT_NE(job, nullptr);
      for (uint64_t shards : {1, 5, 64}) {
        absl::StatusOr<KernelResult> r = testing::RunJob(*job, shards);
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(r->value, std::to_string(*want))
            << prefix << " bits " << bits << " in " << shards << " shards";
        EXPECT_EQ(
            r->details.at("hash"),
            absl::BytesToHexString(Sha256(prefix + std::to_string(*want))));
        EXPECT_EQ(r->details.at("prefix"), prefix);
        EXPECT_EQ(r->details.at("bits"), std::to_string(bits));
      }
    }
  }
}

TEST(HashSearchKernelTest, ScrambledShardsWithCutoffGiveTheSameAnswer) {
  const std::string prefix = "cutoff";
  for (int bits : {8, 12, 16}) {
    const std::optional<uint64_t> want =
        OracleFirstHit(prefix, bits, 0, uint64_t{1} << (bits + 8));
    ASSERT_TRUE(want.has_value());
    std::unique_ptr<LocalKernel> job =
        HashSearchJob({{"prefix", prefix}, {"bits", std::to_string(bits)}});
    ASSERT_NE(job, nullptr);
    for (uint64_t shards : {5, 64, 200}) {
      for (uint64_t seed : {1, 2, 3}) {
        const CoordinatorRun run =
            RunWithCutoff(*job, shards, ScrambledOrder(shards, seed));
        ASSERT_TRUE(run.result.ok()) << run.result.status();
        EXPECT_EQ(run.result->value, std::to_string(*want))
            << "bits " << bits << ", " << shards << " shards, seed " << seed;
      }
      // In shard order every shard above the answer's is skipped.
      std::vector<uint64_t> in_order(shards);
      std::iota(in_order.begin(), in_order.end(), 0);
      const CoordinatorRun run = RunWithCutoff(*job, shards, in_order);
      ASSERT_TRUE(run.result.ok()) << run.result.status();
      EXPECT_EQ(run.result->value, std::to_string(*want));
      const Domain d = job->domain();
      uint64_t answer_shard = 0;
      while (ShardRangeOf(d, shards, answer_shard).end <= *want) {
        ++answer_shard;
      }
      EXPECT_EQ(run.skipped, shards - 1 - answer_shard)
          << "bits " << bits << ", " << shards << " shards";
    }
  }
}

TEST(HashSearchKernelTest, CutoffIsJustAboveAVerifiedHit) {
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "x"}, {"bits", "8"}});
  ASSERT_NE(job, nullptr);
  const std::optional<uint64_t> hit = OracleFirstHit("x", 8, 0, 1 << 16);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(job->Cutoff(absl::StrCat("found:", *hit)), *hit + 1);
  EXPECT_EQ(job->Cutoff("none"), std::nullopt);
  EXPECT_EQ(job->Cutoff(""), std::nullopt);
  EXPECT_EQ(job->Cutoff("found:"), std::nullopt);
  EXPECT_EQ(job->Cutoff("found:007"), std::nullopt);
  // A claimed hit that is not one must not make the coordinator skip work.
  ASSERT_FALSE(OracleHit("x", 8, *hit + 1));
  EXPECT_EQ(job->Cutoff(absl::StrCat("found:", *hit + 1)), std::nullopt);
}

TEST(HashSearchKernelTest, EmptyPrefixHashesTheNonceAlone) {
  const std::optional<uint64_t> want = OracleFirstHit("", 12, 0, 1 << 20);
  ASSERT_TRUE(want.has_value());
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", ""}, {"bits", "12"}});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(testing::RunJob(*job, 3).value().value, std::to_string(*want));
}

TEST(HashSearchKernelTest, DigitsCarryCorrectlyAcrossPowersOfTen) {
  // A shard's first hit depends on the text of every nonce from its begin
  // on, so shards starting just below a carry pin the in-place decimal
  // increment, including a new digit and 20-digit nonces. 6 bits make the
  // first hit lie ~64 nonces on, mostly past the carry.
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "carry"},
                     {"bits", "6"},
                     {"max-nonce", std::to_string(kMax)}});
  ASSERT_NE(job, nullptr);
  for (uint64_t carry :
       {uint64_t{10}, uint64_t{100}, uint64_t{1000}, uint64_t{100000},
        uint64_t{10000000000}, uint64_t{10000000000000000000u},
        uint64_t{18446744073709551000u}}) {
    int hits_past_carry = 0;
    for (uint64_t below = 1; below <= std::min<uint64_t>(carry, 12); ++below) {
      const uint64_t b = carry - below;
      const uint64_t e = std::min(kMax, b + 400);
      absl::StatusOr<std::string> payload =
          job->RunShard({b, e});
      ASSERT_TRUE(payload.ok()) << payload.status();
      const std::optional<uint64_t> want = OracleFirstHit("carry", 6, b, e);
      EXPECT_EQ(*payload,
                want.has_value() ? absl::StrCat("found:", *want) : "none")
          << "[" << b << ", " << e << ")";
      if (want.has_value() && *want >= carry) ++hits_past_carry;
    }
    EXPECT_GT(hits_past_carry, 0) << "carry at " << carry << " not exercised";
  }
}

TEST(HashSearchKernelTest, SixtyFourBitsWantsEightZeroBytes) {
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "p"}, {"bits", "64"}, {"max-nonce", "100000"}});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(testing::RunJob(*job, 4).status().code(),
            absl::StatusCode::kNotFound);
  // The best of the range has fewer zero bits, so a claim is rejected.
  absl::StatusOr<KernelResult> claimed = job->Reduce({"found:0"});
  EXPECT_EQ(claimed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(claimed.status().message().find("lacks 64 leading zero bits"),
            std::string::npos)
      << claimed.status();
}

TEST(HashSearchKernelTest, NoNonceBelowMaxNonceIsNotFound) {
  // The first 16-bit hit for "miss" lies above 10, so [0, 10) has none.
  const std::optional<uint64_t> first = OracleFirstHit("miss", 16, 0, 10);
  ASSERT_FALSE(first.has_value());
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "miss"}, {"bits", "16"}, {"max-nonce", "10"}});
  ASSERT_NE(job, nullptr);
  for (uint64_t shards : {1, 3, 10}) {
    absl::StatusOr<KernelResult> r = testing::RunJob(*job, shards);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(r.status().message(),
              "no nonce below max-nonce 10 gives a SHA-256 with 16 leading "
              "zero bits for prefix 'miss'");
  }
}

TEST(HashSearchKernelTest, OneBitWithOneNonce) {
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "one"}, {"bits", "1"}, {"max-nonce", "1"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<KernelResult> r = testing::RunJob(*job, 1);
  if (OracleHit("one", 1, 0)) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, "0");
  } else {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  }
}

TEST(HashSearchKernelTest, DomainAndShardSizeRule) {
  struct Case {
    KernelArgs args;
    uint64_t hi;
    uint64_t shard_size;
    uint64_t default_shards;
  };
  for (const Case& c : std::vector<Case>{
           // Small searches: one floor-sized shard of 2^20.
           {{{"prefix", "p"}, {"bits", "8"}}, 1 << 16, 1 << 20, 1},
           {{{"prefix", "p"}, {"bits", "20"}}, 1 << 28, 1 << 20, 256},
           // A quarter of 2^bits: 1024 shards by default.
           {{{"prefix", "p"}, {"bits", "30"}},
            uint64_t{1} << 38,
            uint64_t{1} << 28,
            1024},
           {{{"prefix", "p"}, {"bits", "55"}},
            uint64_t{1} << 63,
            uint64_t{1} << 53,
            1024},
           {{{"prefix", "p"}, {"bits", "64"}},
            uint64_t{1} << 63,
            uint64_t{1} << 62,
            2},
           // A huge --max-nonce is capped at 100000 shards.
           {{{"prefix", "p"}, {"bits", "8"}, {"max-nonce", "2^64"}}, 0, 0, 0},
           {{{"prefix", "p"}, {"bits", "8"}, {"max-nonce", "10^12"}},
            1000000000000,
            10000000,
            100000},
       }) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("hashsearch", c.args);
    if (c.hi == 0) {  // 2^64 does not fit
      EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(job.ok()) << job.status();
    const Domain d = (*job)->domain();
    EXPECT_EQ(d.kind, Domain::Kind::kRange);
    EXPECT_EQ(d.lo, 0u);
    EXPECT_EQ(d.hi, c.hi);
    EXPECT_EQ(d.shard_size_hint, c.shard_size);
    EXPECT_EQ(DefaultShardCount(d, /*cluster_slots=*/8), c.default_shards);
  }
  absl::StatusOr<std::unique_ptr<LocalKernel>> widest = LocalKernel::Create(
      "hashsearch",
      {{"prefix", "p"}, {"bits", "8"}, {"max-nonce", std::to_string(kMax)}});
  ASSERT_TRUE(widest.ok()) << widest.status();
  EXPECT_LE(DefaultShardCount((*widest)->domain(), 8), 100000u);
}

TEST(HashSearchKernelTest, CancelledBeforeStartingReturnsCancelled) {
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "c"}, {"bits", "64"}});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, 1000});
}

TEST(HashSearchKernelTest, CancelStopsALongShard) {
  // 2^40 hashes would take over a day on one core.
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "c"}, {"bits", "64"}});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelStopsALongShard(job->runner(), {0, uint64_t{1} << 40},
                                       absl::Milliseconds(50),
                                       absl::Seconds(5));
}

TEST(HashSearchKernelTest, RejectsBadArguments) {
  struct Case {
    KernelArgs args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"prefix", "p"}, {"bits", "0"}},
            "--bits must be between 1 and 64, got 0"},
           {{{"prefix", "p"}, {"bits", "65"}},
            "--bits must be between 1 and 64, got 65"},
           {{{"prefix", "p"}, {"bits", "-1"}},
            "--bits: '-1' is not a non-negative integer"},
           {{{"prefix", "p"}, {"bits", "8"}, {"max-nonce", "0"}},
            "--max-nonce must be at least 1, got 0"},
           {{{"bits", "8"}},
            "missing required argument --prefix for kernel hashsearch"},
           {{{"prefix", "p"}},
            "missing required argument --bits for kernel hashsearch"},
           {{{"prefix", "p"}, {"bits", "8"}, {"nonce", "1"}},
            "unknown argument --nonce for kernel hashsearch"},
       }) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("hashsearch", c.args);
    ASSERT_FALSE(job.ok()) << c.message;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(job.status().message(), c.message);
  }
}

TEST(HashSearchKernelTest, RunShardRejectsARangeOutsideTheJob) {
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", "p"}, {"bits", "8"}, {"max-nonce", "1000"}});
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->RunShard({900, 1001}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HashSearchKernelTest, ReduceRejectsCorruptPayloads) {
  const std::string prefix = "corrupt";
  std::unique_ptr<LocalKernel> job =
      HashSearchJob({{"prefix", prefix}, {"bits", "4"}, {"max-nonce", "1000"}});
  ASSERT_NE(job, nullptr);
  // Shards of 2: [0, 500) and [500, 1000).
  const std::optional<uint64_t> low = OracleFirstHit(prefix, 4, 0, 500);
  const std::optional<uint64_t> high = OracleFirstHit(prefix, 4, 500, 1000);
  ASSERT_TRUE(low.has_value() && high.has_value());
  std::optional<uint64_t> miss;
  for (uint64_t n = 0; n < 500 && !miss.has_value(); ++n) {
    if (!OracleHit(prefix, 4, n)) miss = n;
  }
  ASSERT_TRUE(miss.has_value());
  const std::string found_low = absl::StrCat("found:", *low);
  const std::string found_high = absl::StrCat("found:", *high);

  struct Case {
    std::vector<std::string> payloads;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{found_high, "none"},
            absl::StrCat("shard 0 reports nonce ", *high,
                         " outside its range [0, 500)")},
           {{absl::StrCat("found:", *miss), "none"}, "lacks 4 leading zero"},
           {{"", found_high},
            "shard 0 [0, 500) was skipped, yet it does not lie above"},
           {{"none", ""}, "shard 1 was skipped, yet no shard found a nonce"},
           {{"", ""}, "shard 0 was skipped, yet no shard found a nonce"},
           {{"maybe", "none"}, "payload of shard 0 is not 'none'"},
           {{"none", "found:-1"}, "payload of shard 1 is not a decimal count"},
           {{}, "no shard payloads to reduce"},
       }) {
    absl::StatusOr<KernelResult> r = job->Reduce(c.payloads);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << r.status().message();
  }
  // Well-formed payloads reduce to the smallest hit, skips above it allowed.
  EXPECT_EQ(job->Reduce({found_low, found_high}).value().value,
            std::to_string(*low));
  EXPECT_EQ(job->Reduce({found_low, ""}).value().value, std::to_string(*low));
  EXPECT_EQ(job->Reduce({"none", found_high}).value().value,
            std::to_string(*high));
  // Uneven ranges (adaptive shards): each hit is checked against its own
  // shard's range, not an even split's.
  const std::vector<ShardRange> uneven = {{0, *low + 1}, {*low + 1, 1000}};
  const std::vector<std::string> payloads = {found_low, "none"};
  EXPECT_EQ(job->job().ReduceRanges(payloads, uneven).value().value,
            std::to_string(*low));
  const std::vector<ShardRange> early = {{0, *low}, {*low, 1000}};
  absl::StatusOr<KernelResult> outside =
      job->job().ReduceRanges(payloads, early);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("outside its range"),
            std::string::npos)
      << outside.status().message();
}

// Straggler splitting: the split run scans [0, at) in order and stops at
// its first hit, so it finds what an unsplit run over [0, at) finds; and
// the smaller part's hit, else the rest's, is the unsplit answer.
TEST(HashSearchKernelTest, SplitRunFindsWhatTheRangeItCoveredHolds) {
  const std::optional<uint64_t> want =
      OracleFirstHit("split", 12, 0, uint64_t{1} << 20);
  ASSERT_TRUE(want.has_value());
  std::unique_ptr<LocalKernel> job = HashSearchJob(
      {{"prefix", "split"}, {"bits", "12"}, {"max-nonce", "1048576"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<std::string> whole = job->RunShard({0, 1 << 20});
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, absl::StrCat("found:", *want));
  // Cut below the hit (the first part has none) and above it.
  for (const uint64_t at : {*want / 2, *want + 1}) {
    if (at == 0) continue;
    const double keep = static_cast<double>(at) / (1 << 20);
    absl::StatusOr<testing::SplitRun> run =
        testing::RunSplitAt(*job, {0, 1 << 20}, 0, keep);
    ASSERT_TRUE(run.ok()) << run.status();
    const std::string& answer =
        run->split.rfind("found:", 0) == 0 ? run->split : run->rest;
    EXPECT_EQ(answer, *whole) << "split at " << run->at;
  }
}

}  // namespace
}  // namespace shardex
