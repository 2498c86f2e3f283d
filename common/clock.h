// Clock: the time source behind every timeout, heartbeat and rate in
// shardex, so timing logic is tested with FakeClock instead of sleeps.
//
// Thread-safety: every Clock is safe to use from any thread.
#ifndef SHARDEX_COMMON_CLOCK_H_
#define SHARDEX_COMMON_CLOCK_H_

#include "absl/time/time.h"

namespace shardex {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_CLOCK_H_
