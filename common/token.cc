#include "common/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/state_dir.h"
#include "glog/logging.h"
#include "openssl/crypto.h"
#include "openssl/rand.h"
#include "openssl/sha.h"

namespace shardex {

namespace {

constexpr size_t kRandomBytes = 32;

absl::Status CheckToken(const std::string& token, const std::string& path) {
  if (token.size() < 16 || token.size() > 128) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token file ", path, ": a token is 16 to 128 characters, not ",
        token.size()));
  }
  for (char c : token) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return absl::FailedPreconditionError(absl::StrCat(
          "token file ", path,
          ": the token must be printable characters without spaces"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return ErrnoError("cannot read the token file", path);
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token file ", path,
        " is accessible to other users; run: chmod 600 ", path));
  }
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(*text));
  if (absl::Status valid = CheckToken(token, path); !valid.ok()) return valid;
  return token;
}

absl::StatusOr<std::string> LoadOrCreateTokenFile(const std::string& path,
                                                  bool* created) {
  *created = false;
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadTokenFile(path);
    return ErrnoError("cannot create the token file", path);
  }
  const std::string token = RandomToken();
  const std::string line = token + "\n";
  const bool ok = write(fd, line.data(), line.size()) ==
                      static_cast<ssize_t>(line.size()) &&
                  fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (!ok) {
    unlink(path.c_str());
    errno = err;
    return ErrnoError("cannot write the token file", path);
  }
  *created = true;
  return token;
}

std::string RandomToken() {
  unsigned char bytes[kRandomBytes];
  // RAND_bytes fails only without an entropy source; there is no safe
  // fallback, so stop.
  CHECK_EQ(RAND_bytes(bytes, sizeof(bytes)), 1) << "no random bytes";
  std::string token = absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes), sizeof(bytes)));
  OPENSSL_cleanse(bytes, sizeof(bytes));
  return token;
}

bool TokensEqual(absl::string_view presented, absl::string_view expected) {
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(presented.data()),
         presented.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()),
         expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

std::string DefaultTokenFile() {
  const char* env = getenv("SHARDEX_TOKEN_FILE");
  if (env != nullptr && *env != '\0') return env;
  const std::string dir = DefaultStateDir();
  const std::string path = dir + "/token";
  return access(path.c_str(), F_OK) == 0 ? path : "";
}

}  // namespace shardex
