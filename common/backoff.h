// Backoff: the waits between retries of one retry loop (a client call that
// met UNAVAILABLE, a worker dialling a coordinator again), as "full jitter"
// in the sense of AWS's "Exponential Backoff And Jitter":
//
//   ceiling(n) = min(max, initial * 2^n)       n = waits since Reset()
//   wait(n)    = uniform [0, ceiling(n))
//
// Spreading each wait over the whole range keeps many clients that failed
// together from retrying together. The random source is injectable so
// tests can pin the draws.
//
// Thread-safety: not thread-safe; one Backoff per retry loop.
#ifndef SHARDEX_COMMON_BACKOFF_H_
#define SHARDEX_COMMON_BACKOFF_H_

#include <functional>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace shardex {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(100);  // the first ceiling
  absl::Duration max = absl::Seconds(5);             // the ceiling's cap
};

class Backoff {
 public:
  // Returns a draw from [0, 1).
  using UnitRandom = std::function<double()>;

  // Draws from an absl::BitGen.
  explicit Backoff(BackoffOptions options);
  Backoff(BackoffOptions options, UnitRandom random);

  Backoff(const Backoff&) = delete;
  Backoff& operator=(const Backoff&) = delete;

  // The next wait, uniform in [0, ceiling()); then the ceiling doubles (up
  // to options.max).
  absl::Duration Next();
  // Back to the first ceiling (after a success).
  void Reset();
  // The bound of the next wait.
  absl::Duration ceiling() const { return ceiling_; }

 private:
  absl::Duration First() const;

  const BackoffOptions options_;
  const UnitRandom random_;  // empty: gen_
  absl::BitGen gen_;
  absl::Duration ceiling_;
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_BACKOFF_H_
