#include "dashboard/sessions.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "glog/logging.h"
#include "openssl/rand.h"

namespace shardex {

SessionStore::SessionStore(Clock* clock, SessionOptions options)
    : clock_(clock), options_(options) {}

std::string SessionStore::Create() {
  unsigned char bytes[32];
  // RAND_bytes fails only if the OS has no entropy to give; a predictable
  // session id would be worse than stopping.
  CHECK_EQ(RAND_bytes(bytes, sizeof(bytes)), 1)
      << "OpenSSL's RAND_bytes failed: no randomness for a session id";
  std::string id = absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes), sizeof(bytes)));
  absl::MutexLock lock(&mu_);
  while (!sessions_.empty() && sessions_.size() >= options_.max_sessions) {
    EvictOldest();
  }
  sessions_[id] = clock_->Now();
  return id;
}

bool SessionStore::Valid(absl::string_view id) {
  if (id.empty()) return false;
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  if (clock_->Now() - it->second >= options_.lifetime) {
    sessions_.erase(it);
    return false;
  }
  return true;
}

void SessionStore::Remove(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(id);
}

size_t SessionStore::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

// Linear, but only at a login past the cap (max_sessions is small).
void SessionStore::EvictOldest() {
  auto oldest = sessions_.begin();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->second < oldest->second) oldest = it;
  }
  sessions_.erase(oldest);
}

}  // namespace shardex
