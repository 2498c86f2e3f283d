// Authenticator: the one place every coordinator RPC (client or worker)
// checks the caller's token ("authorization: Bearer <token>" metadata).
// Handlers call Check first and answer UNAUTHENTICATED when it fails; the
// message never contains the token. Health checking and reflection stay
// open (they reveal nothing a token protects).
//
// Thread-safety: immutable after construction; Check is safe from any
// thread.
#ifndef SHARDEX_COORDINATOR_AUTH_H_
#define SHARDEX_COORDINATOR_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"

namespace shardex {

class Authenticator {
 public:
  explicit Authenticator(std::string token) : token_(std::move(token)) {}

  absl::Status Check(const grpc::ServerContextBase& ctx) const;

 private:
  const std::string token_;
};

}  // namespace shardex

#endif  // SHARDEX_COORDINATOR_AUTH_H_
