#include "common/blob_id.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"

namespace shardex {

bool IsBlobId(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
}

void Sha256Hasher::Update(std::string_view bytes) {
  EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
}

std::string Sha256Hasher::FinishRaw() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string Sha256Hasher::FinishHex() {
  return absl::BytesToHexString(FinishRaw());
}

std::string Sha256Raw(std::string_view bytes) {
  Sha256Hasher h;
  h.Update(bytes);
  return h.FinishRaw();
}

std::string Sha256Hex(std::string_view bytes) {
  return absl::BytesToHexString(Sha256Raw(bytes));
}

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot open '", path, "': ", strerror(errno)));
  }
  Sha256Hasher h;
  std::string buf(kBlobBlockBytes, '\0');
  while (true) {
    ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(
          errno, absl::StrCat("cannot read '", path, "': ", strerror(errno)));
    }
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return h.FinishHex();
}

}  // namespace shardex
