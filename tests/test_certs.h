// Throwaway TLS certificates for tests, made with the `openssl` command at
// test time (nothing checked in, nothing valid beyond a day). One call makes
// the whole set in a directory; tests name the files they need:
//   ca.pem / ca.key                the CA the cluster trusts
//   other-ca.pem / other-ca.key    a second CA nobody trusts ("CN=other-ca")
//   server.pem / server.key        signed by ca, subjectAltName IP:127.0.0.1
//   client.pem / client.key        signed by ca
//   expired-client.pem             client.key's certificate, already expired
//   stranger.pem / stranger.key    a client certificate signed by other-ca
// Shared by tests/ (TLS errors, security); reuse it rather than another
// openssl script.
//
// Thread-safety: Make runs `openssl` processes; call it from one thread.
#ifndef SHARDEX_TESTS_TEST_CERTS_H_
#define SHARDEX_TESTS_TEST_CERTS_H_

#include <string>

#include "absl/status/statusor.h"

namespace shardex {

class TestCertificates {
 public:
  // Makes the set in `dir` (created if missing). INTERNAL if openssl fails.
  static absl::StatusOr<TestCertificates> Make(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // <dir>/<name>, e.g. path("ca.pem").
  std::string path(const std::string& name) const;

 private:
  explicit TestCertificates(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace shardex

#endif  // SHARDEX_TESTS_TEST_CERTS_H_
