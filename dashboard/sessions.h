// Sessions: the dashboard's logins. A session is a random 256-bit id (64
// hex digits, from OpenSSL's RAND_bytes) that the browser keeps in an
// HttpOnly cookie; the token itself never leaves the login form. Sessions
// expire a fixed time after login (no sliding renewal: a stolen cookie is
// good for at most that long), and at most max_sessions live at once: a new
// login past the cap evicts the oldest, so a flood of logins cannot grow
// memory. Everything is in memory: a coordinator restart logs everyone out.
//
// Thread-safety: every method is safe to call from any thread.
#ifndef SHARDEX_DASHBOARD_SESSIONS_H_
#define SHARDEX_DASHBOARD_SESSIONS_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace shardex {

struct SessionOptions {
  absl::Duration lifetime = absl::Hours(12);
  size_t max_sessions = 1000;
};

class SessionStore {
 public:
  // `clock` must outlive the store.
  SessionStore(Clock* clock, SessionOptions options = {});

  // A new session; returns its id.
  std::string Create() ABSL_LOCKS_EXCLUDED(mu_);
  // True if `id` names a live session. Expired ones are forgotten here.
  bool Valid(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);
  // Logs out; unknown ids are ignored.
  void Remove(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void EvictOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const SessionOptions options_;
  mutable absl::Mutex mu_;
  // id -> login time. The id is 256 random bits, so a lookup's timing
  // (the hash map's) tells an attacker nothing usable about other ids.
  absl::flat_hash_map<std::string, absl::Time> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shardex

#endif  // SHARDEX_DASHBOARD_SESSIONS_H_
