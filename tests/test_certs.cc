#include "tests/test_certs.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace shardex {

namespace {

// Shell: a P-256 key and CSR for `name` (CN=<name>).
std::string KeyAndRequest(const std::string& name) {
  return absl::StrCat(
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout ",
      name, ".key -out ", name, ".csr -subj /CN=", name, " 2>/dev/null; ");
}

// Shell: signs <csr>.csr with <ca> into <out>.pem, valid for `days` (a
// negative number makes it expired already).
std::string Sign(const std::string& csr, const std::string& ca,
                 const std::string& out, int days,
                 const std::string& extra = "") {
  return absl::StrCat("openssl x509 -req -in ", csr, ".csr -CA ", ca,
                      ".pem -CAkey ", ca, ".key -CAcreateserial -out ", out,
                      ".pem -days ", days, " ", extra, " 2>/dev/null; ");
}

std::string SelfSignedCa(const std::string& name) {
  return absl::StrCat(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -keyout ",
      name, ".key -out ", name, ".pem -days 1 -subj /CN=", name,
      " 2>/dev/null; ");
}

}  // namespace

absl::StatusOr<TestCertificates> TestCertificates::Make(
    const std::string& dir) {
  mkdir(dir.c_str(), 0700);
  const std::string script = absl::StrCat(
      "set -e; cd ", dir, "; ",
      "printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext; ",
      SelfSignedCa("ca"), SelfSignedCa("other-ca"),  //
      KeyAndRequest("server"),
      Sign("server", "ca", "server", 1, "-extfile server.ext"),
      KeyAndRequest("client"), Sign("client", "ca", "client", 1),
      Sign("client", "ca", "expired-client", -1),  //
      KeyAndRequest("stranger"), Sign("stranger", "other-ca", "stranger", 1));
  if (system(script.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("openssl failed in ", dir));
  }
  return TestCertificates(dir);
}

std::string TestCertificates::path(const std::string& name) const {
  return absl::StrCat(dir_, "/", name);
}

}  // namespace shardex
