#include "kernels/shard_control.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace shardex {

ShardControl::~ShardControl() {
  if (const int fd = wake_fd_.load(); fd >= 0) close(fd);
}

void ShardControl::Cancel() {
  cancel_.store(true);
  if (const int fd = wake_fd_.load(); fd >= 0) eventfd_write(fd, 1);
}

int ShardControl::WakeFd() {
  if (const int fd = wake_fd_.load(); fd >= 0) return fd;
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -1;
  wake_fd_.store(fd);
  if (cancel_.load()) eventfd_write(fd, 1);
  return fd;
}

std::optional<ShardRange> ShardControl::Claim(uint64_t pos,
                                               uint64_t max_size) {
  Locked locked(&lock_);
  if (pos >= end_) return std::nullopt;
  const uint64_t chunk_end = pos + std::min(std::max<uint64_t>(max_size, 1),
                                            end_ - pos);
  claimed_end_ = std::max(claimed_end_, chunk_end);
  return ShardRange{pos, chunk_end};
}

std::optional<uint64_t> ShardControl::Split(double keep) {
  if (!(keep > 0 && keep < 1)) return std::nullopt;  // also NaN
  Locked locked(&lock_);
  if (claimed_end_ >= end_) return std::nullopt;
  const uint64_t rest = end_ - claimed_end_;
  // keep * rest < rest in exact arithmetic, but not always in doubles (53
  // bits): a product that rounded up to rest keeps nothing to give away.
  const double kept = std::floor(keep * static_cast<double>(rest));
  if (kept < 1 || kept >= static_cast<double>(rest)) return std::nullopt;
  const uint64_t at = claimed_end_ + static_cast<uint64_t>(kept);
  if (at <= claimed_end_ || at >= end_) return std::nullopt;
  end_ = at;
  return at;
}

uint64_t ShardControl::end() const {
  Locked locked(&lock_);
  return end_;
}

uint64_t ShardControl::claimed() const {
  Locked locked(&lock_);
  return claimed_end_;
}

}  // namespace shardex
