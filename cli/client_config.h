// Where an enrolled client or worker keeps its identity, and how every
// command finds the coordinator and its credentials.
//
// An identity directory holds, after `shardex login --join` (client) or
// `shardex worker --join` (worker):
//
//   key.pem   the private key, made on this machine, never sent   0600
//   cert.pem  the certificate the coordinator's CA issued           0644
//   ca.pem    the CA certificate, pinned by the join token          0644
//   config    "coordinator = host:port" and the three paths above   0600
//
// The client's is $XDG_CONFIG_HOME/shardex (else ~/.config/shardex); a
// worker's is $XDG_DATA_HOME/shardex/worker (else
// ~/.local/share/shardex/worker) unless --identity-dir says otherwise.
//
// Lookup order for a command that dials the coordinator (first wins):
//   address:      --coordinator, $SHARDEX_COORDINATOR, the config's
//                 coordinator, 127.0.0.1:7473
//   certificates: --tls-ca/--tls-cert/--tls-key, $SHARDEX_TLS_CA/
//                 $SHARDEX_TLS_CERT/$SHARDEX_TLS_KEY, the config's (only
//                 when dialling the config's coordinator), none
//   token:        --token-file, $SHARDEX_TOKEN_FILE, <default state
//                 dir>/token, none (a certificate alone is enough)
//
// Thread-safety: functions are safe from any thread (they read the
// environment and files).
#ifndef SHARDEX_CLI_CLIENT_CONFIG_H_
#define SHARDEX_CLI_CLIENT_CONFIG_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls.h"

namespace shardex {

struct ClientConfig {
  std::string coordinator;
  TlsFiles tls;
};

// $XDG_CONFIG_HOME/shardex, else $HOME/.config/shardex, else
// /tmp/shardex-<uid>/config.
std::string ClientIdentityDir();
// $XDG_DATA_HOME/shardex/worker, else $HOME/.local/share/shardex/worker,
// else /tmp/shardex-<uid>/worker.
std::string WorkerIdentityDir();

// The identity files' paths in `dir`.
TlsFiles IdentityFiles(const std::string& dir);

// Reads <dir>/config; nullopt if there is none.
absl::StatusOr<std::optional<ClientConfig>> ReadClientConfig(
    const std::string& dir);
// Writes <dir>/config (0600).
absl::Status WriteClientConfig(const std::string& dir,
                               const ClientConfig& config);

// Applies the lookup order above after the flags were parsed: sets
// `*coordinator` from `config` unless a flag (`coordinator_given`) or
// $SHARDEX_COORDINATOR named it, and fills an empty `*tls` from
// $SHARDEX_TLS_*, else from `config` when dialling its coordinator.
// Returns whether `config`'s certificate is now in use (and so is the
// caller's to renew).
bool ApplyConfig(const std::optional<ClientConfig>& config,
                 bool coordinator_given, std::string* coordinator,
                 TlsFiles* tls);

}  // namespace shardex

#endif  // SHARDEX_CLI_CLIENT_CONFIG_H_
