// Flags and error reporting shared by several `shardex` subcommands: the
// coordinator address and access flags of every program that dials the
// coordinator, duration options, the one-call commands (status, watch,
// cancel, jobs, workers) built on them, and the one-line `shardex: ...`
// errors.
// Each subcommand owns its own ClientFlags; nothing here is global.
//
// Thread-safety: single-threaded, like command-line parsing.
#ifndef SHARDEX_CLI_SHARED_FLAGS_H_
#define SHARDEX_CLI_SHARED_FLAGS_H_

#include <string>

#include <cstdint>
#include <functional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "client/client.h"
#include "common/tls.h"

namespace shardex {

// $SHARDEX_COORDINATOR when set and non-empty, else 127.0.0.1:7473.
std::string DefaultCoordinator();

// Adds an option taking "500ms", "3s", "1m" (a positive absl duration)
// into `*out`; its current value is the default shown in --help.
CLI::Option* AddDurationOption(CLI::App* cmd, const std::string& name,
                               absl::Duration* out, const std::string& help);

// --token-file, --tls-ca, --tls-cert, --tls-key: what every program that
// dials the coordinator (the CLI, a worker) needs to be let in.
void AddAccessFlags(CLI::App* cmd, std::string* token_file, TlsFiles* tls);

// Reads the access token from `flag`, or from the default token file when
// `flag` is empty; the token never comes from the command line. Prints the
// error and returns false when the file cannot be read.
bool LoadToken(const std::string& flag, std::string* token);

// The flags of a command that calls a running coordinator: --coordinator,
// the access flags and --rpc-timeout.
struct ClientFlags {
  ClientOptions options;  // filled by the parser
  std::string token_file;
  CLI::Option* coordinator_flag = nullptr;

  void Register(CLI::App* cmd);
  // After parsing: reads the token (see LoadToken), and fills what flags
  // left open from `shardex login`'s config (cli/client_config.h has the
  // lookup order), renewing its certificate when due.
  bool LoadToken();
};

// The flags of a command that makes one call to a running coordinator and
// prints the answer: status, watch, cancel, jobs, workers.
struct QueryFlags {
  ClientFlags client;
  uint64_t job_id = 0;  // JOB, for commands about one job
  bool json = false;    // --json
};

// Adds such a command: the client flags, a required JOB when `takes_job`,
// and --json. `run` gets the flags after the token was read.
Subcommand AddQueryCommand(CLI::App& app, const std::string& name,
                           const std::string& help, bool takes_job,
                           std::function<int(const QueryFlags&)> run);

// Prints "shardex: <message>" and the --help hint; returns kExitUsage.
int UsageError(absl::string_view message);

// Prints "shardex: <message>"; returns the exit code for `status`
// (cli/exit_codes.h).
int Fail(const absl::Status& status);

}  // namespace shardex

#endif  // SHARDEX_CLI_SHARED_FLAGS_H_
