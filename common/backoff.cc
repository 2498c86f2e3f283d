#include "common/backoff.h"

#include <algorithm>
#include <utility>

namespace shardex {

Backoff::Backoff(BackoffOptions options) : Backoff(options, UnitRandom()) {}

Backoff::Backoff(BackoffOptions options, UnitRandom random)
    : options_(options),
      random_(std::move(random)),
      ceiling_(First()) {}

absl::Duration Backoff::First() const {
  return std::min(options_.initial, options_.max);
}

void Backoff::Reset() { ceiling_ = First(); }

absl::Duration Backoff::Next() {
  const double u = random_ ? random_() : absl::Uniform(gen_, 0.0, 1.0);
  const absl::Duration wait = ceiling_ * u;
  ceiling_ = std::min(ceiling_ * 2, options_.max);
  return wait;
}

}  // namespace shardex
