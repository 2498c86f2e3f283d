// The coordinator's access token: a random secret that every client and
// worker call presents (gRPC metadata "authorization: Bearer <token>").
//
// The token lives in a file of mode 0600 (by default <state-dir>/token),
// never on a command line, in a log or in an error message. Clients find it
// through --token-file, $SHARDEX_TOKEN_FILE, or the default state
// directory's file on the coordinator's own host.
//
// Thread-safety: the functions are safe to call from any thread.
#ifndef SHARDEX_COMMON_TOKEN_H_
#define SHARDEX_COMMON_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {

// gRPC metadata key and value prefix carrying the token.
inline constexpr char kTokenMetadataKey[] = "authorization";
inline constexpr char kTokenMetadataPrefix[] = "Bearer ";

// Reads the token in `path` (surrounding whitespace ignored). FAILED_
// PRECONDITION if the file is readable or writable by group or others, or
// the token is malformed (not 16-128 printable non-space characters).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// A fresh token: 32 random bytes (OpenSSL's RAND_bytes) as 64 hex digits.
std::string RandomToken();

// Reads `path`, or creates it (mode 0600, 32 random bytes as hex) if it
// does not exist. `*created` tells which.
absl::StatusOr<std::string> LoadOrCreateTokenFile(const std::string& path,
                                                  bool* created);

// Compares in time independent of where the strings differ (and of their
// lengths): both are hashed and the digests compared with CRYPTO_memcmp.
bool TokensEqual(absl::string_view presented, absl::string_view expected);

// The token file a client uses when none is given: $SHARDEX_TOKEN_FILE,
// else <default state dir>/token. Empty if the chosen file does not exist.
std::string DefaultTokenFile();

}  // namespace shardex

#endif  // SHARDEX_COMMON_TOKEN_H_
