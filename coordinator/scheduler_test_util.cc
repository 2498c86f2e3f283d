#include "coordinator/scheduler_test_util.h"

#include <optional>
#include <string>

namespace shardex {
namespace {

// A kernel whose payload is the first "hit" in its shard, or empty: a hit
// at X makes shards beginning above X unnecessary (like hashsearch).
class FirstHitJob : public BlobJob {
 public:
  Domain domain() const override {
    return Domain{Domain::Kind::kRange, 0, 100};
  }
  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    KernelResult r;
    for (const std::string& p : payloads) {
      if (!p.empty() &&
          (r.value.empty() || std::stoull(p) < std::stoull(r.value))) {
        r.value = p;
      }
    }
    return r;
  }
  std::optional<uint64_t> Cutoff(const std::string& payload) const override {
    if (payload.empty()) return std::nullopt;
    return std::stoull(payload) + 1;
  }
};

SHARDEX_REGISTER_KERNEL(firsthit_for_test, [] {
  return TestKernelInfo<FirstHitJob>("firsthit_for_test");
});
SHARDEX_REGISTER_KERNEL(blob_for_test,
                        [] { return TestKernelInfo<BlobJob>("blob_for_test"); });

}  // namespace

v1::JobSpec Primes(uint64_t to, uint64_t shards) {
  v1::JobSpec spec;
  spec.set_kernel("primes");
  (*spec.mutable_args())["to"] = std::to_string(to);
  spec.set_shards(shards);
  return spec;
}

v1::JobSpec Sleep(uint64_t shards) {
  v1::JobSpec spec;
  spec.set_kernel("sleep");
  (*spec.mutable_args())["ms"] = "0";
  spec.set_shards(shards);
  return spec;
}

v1::Register Reg(uint32_t slots) {
  v1::Register r;
  r.set_host("test");
  r.set_slots(slots);
  return r;
}

v1::JobSpec Blob(uint64_t shards, size_t arg_bytes) {
  v1::JobSpec spec;
  spec.set_kernel("blob_for_test");
  spec.set_shards(shards);
  if (arg_bytes > 0)
    (*spec.mutable_args())["pad"] = std::string(arg_bytes, 'p');
  return spec;
}

void ExpectStatus(const absl::Status& st, absl::StatusCode code,
                  const std::string& field, const std::string& what) {
  EXPECT_EQ(st.code(), code) << st;
  EXPECT_NE(st.message().find(field), std::string::npos)
      << "should name " << field << ": " << st;
  EXPECT_NE(st.message().find(what), std::string::npos)
      << "should say " << what << ": " << st;
}

std::vector<v1::ShardRef> CancelledRefs(const FakeWorkerLink& link) {
  std::vector<v1::ShardRef> refs;
  for (const auto& m : link.sent()) {
    for (const auto& ref : m.cancel().shards()) refs.push_back(ref);
  }
  return refs;
}

std::vector<uint64_t> EndedJobNotices(const FakeWorkerLink& link) {
  std::vector<uint64_t> ids;
  for (const auto& m : link.sent()) {
    for (uint64_t id : m.cancel().job_ids()) ids.push_back(id);
  }
  return ids;
}

}  // namespace shardex
