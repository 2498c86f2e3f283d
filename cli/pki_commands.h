// The built-in PKI's subcommands (docs/security.md, "Built-in PKI"):
//
//   shardex token create|list|revoke   join tokens, on the coordinator's host
//   shardex cert list|revoke           certificates the CA issued, same host
//   shardex login --join TOKEN         enrol this user as a client
//
// (`shardex worker --join` is in cli/worker_command.cc.) The first two
// open the state directory's files directly, so they work while the
// coordinator runs and take effect at its next call.
//
// Thread-safety: like the other subcommands, main thread only.
#ifndef SHARDEX_CLI_PKI_COMMANDS_H_
#define SHARDEX_CLI_PKI_COMMANDS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

namespace shardex {

Subcommand AddTokenCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddCertCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddLoginCommand(CLI::App& app, const GlobalOptions& global);

// The join token in a --join value: the value itself, or for "-" the first
// line of standard input (keeps it out of the process list).
std::string ReadJoinFlag(const std::string& flag);

}  // namespace shardex

#endif  // SHARDEX_CLI_PKI_COMMANDS_H_
