#include "coordinator/auth.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/token.h"

namespace shardex {

absl::Status Authenticator::Check(const grpc::ServerContextBase& ctx) const {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find(kTokenMetadataKey);
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this coordinator needs a token and the call carried none");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kTokenMetadataPrefix) ||
      !TokensEqual(value.substr(sizeof(kTokenMetadataPrefix) - 1), token_)) {
    return absl::UnauthenticatedError(
        "the call's token does not match this coordinator's");
  }
  return absl::OkStatus();
}

}  // namespace shardex
