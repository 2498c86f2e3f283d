#include "worker/result_linger.h"

namespace shardex {

void ResultLinger::Added(size_t waiting, absl::Time now, bool urgent) {
  if (waiting <= 1) {  // the first to wait: a new linger starts
    oldest_ = now;
    urgent_ = urgent;
    return;
  }
  urgent_ = urgent_ || urgent;
}

void ResultLinger::Removed(size_t waiting) {
  // What is left keeps its urgency and its oldest time: it was due with
  // what went (it did not fit the batch), so it goes next, at once.
  if (waiting == 0) urgent_ = false;
}

bool ResultLinger::Urgent(size_t waiting) const {
  return urgent_ || waiting >= max_batch_ || linger_ <= absl::ZeroDuration();
}

absl::Time ResultLinger::DueAt(size_t waiting) const {
  if (waiting == 0 || Urgent(waiting)) return absl::InfinitePast();
  return oldest_ + linger_;
}

}  // namespace shardex
