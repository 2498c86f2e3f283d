// CertRegistry: the built-in CA's record of every certificate it issued
// (serial, role, name, expiry) and which of them are revoked, in a small
// SQLite database (<state-dir>/pki/registry.db, mode 0600).
//
// The running coordinator and `shardex cert revoke` (another process on the
// same host) open the same file; IsRevoked reads it on every call, so a
// revocation takes effect at the next RPC, without a restart. SQLite's own
// locking (with a busy timeout) serialises the two processes.
//
// Thread-safety: safe to use from any thread (one mutex around the
// connection).
#ifndef SHARDEX_COORDINATOR_CERT_REGISTRY_H_
#define SHARDEX_COORDINATOR_CERT_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/pki_sqlite.h"

namespace shardex {

struct IssuedCert {
  std::string serial_hex;
  std::string role;
  std::string name;
  absl::Time issued_at;
  absl::Time not_after;
  bool revoked = false;
};

class CertRegistry {
 public:
  // Opens or creates the database at `path` (mode 0600).
  static absl::StatusOr<std::unique_ptr<CertRegistry>> Open(
      const std::string& path);
  ~CertRegistry();

  absl::Status Record(const IssuedCert& cert);
  // NOT_FOUND if no certificate with that serial was issued. Revoking twice
  // is not an error.
  absl::Status Revoke(const std::string& serial_hex, absl::Time now);
  // Whether `serial_hex` was revoked. An unknown serial is not revoked (it
  // may predate the registry); the chain check decides about it.
  absl::StatusOr<bool> IsRevoked(const std::string& serial_hex);
  // Every certificate, newest first.
  absl::StatusOr<std::vector<IssuedCert>> List();

 private:
  CertRegistry(PrivateDb db, std::string path);

  const std::string path_;
  absl::Mutex mu_;
  const PrivateDb owned_db_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);  // owned_db_.get()
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_CERT_REGISTRY_H_
