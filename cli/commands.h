// The `shardex` subcommands. Each one has an Add*Command function that
// registers its flags with CLI11 into an options struct the command owns,
// and a Run* function that takes that struct and returns the exit code
// (cli/exit_codes.h). main.cc is only the table of Add*Command functions;
// the flags of a command live next to the code that runs it.
//
// Thread-safety: registration, parsing and Run* happen on the main thread;
// the Run* functions start whatever threads their command needs.
#ifndef SHARDEX_CLI_COMMANDS_H_
#define SHARDEX_CLI_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/local_cluster.h"
#include "client/client.h"
#include "coordinator/server.h"
#include "kernels/kernel.h"
#include "worker/worker.h"

namespace shardex {

// What a subcommand may read besides its own flags. Owned by main, filled
// before any subcommand runs.
struct GlobalOptions {
  std::string log_level = "info";    // --log-level
  std::vector<std::string> command;  // what followed `--` (a command job)
};

// A registered subcommand. Its options live in the closures, so a
// Subcommand stays valid as long as the CLI::App it was added to.
struct Subcommand {
  CLI::App* app = nullptr;
  // After a successful parse: finishes the options (reads tokens, builds
  // the job) and runs the command; returns the exit code.
  std::function<int()> run;
  // When the parser met arguments it does not know: the one line to show
  // instead of the parser's own. Unset for most commands.
  std::function<std::string(const std::vector<std::string>& extras)>
      explain_extras;
};

using AddCommandFunction = Subcommand (*)(CLI::App& app,
                                          const GlobalOptions& global);

// cli/coordinator_command.cc, cli/worker_command.cc
Subcommand AddCoordinatorCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddWorkerCommand(CLI::App& app, const GlobalOptions& global);
// cli/job_commands.cc: the commands that follow a job to its end
Subcommand AddSubmitCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddWatchCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddLocalCommand(CLI::App& app, const GlobalOptions& global);
// cli/query_commands.cc: one call, its answer printed
Subcommand AddStatusCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddCancelCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddJobsCommand(CLI::App& app, const GlobalOptions& global);
Subcommand AddWorkersCommand(CLI::App& app, const GlobalOptions& global);
// cli/health_command.cc
Subcommand AddHealthCommand(CLI::App& app, const GlobalOptions& global);

// A job as the user described it on the command line.
using JobRequest = shardex::v1::JobSpec;

// How a command shows a job it waits for.
struct WaitOptions {
  bool json = false;      // one JSON status on stdout instead of text
  bool progress = true;   // live progress on stderr when it is a terminal
};

struct CoordinatorCommand {
  CoordinatorOptions server;
  std::string port_file;  // when set, the bound port is written here
};
int RunCoordinator(const CoordinatorCommand& cmd);

int RunWorker(const WorkerOptions& options);

struct SubmitCommand {
  JobRequest job;
  // --upload FILE|DIR, absolute (cli/staging_plan.h); command jobs only.
  std::vector<std::string> uploads;
  bool detach = false;  // print the job id and return at once
  WaitOptions wait;
};
// RunSubmit and RunWatch talk through a `client` their caller made and
// keeps: the `submit` and `watch` commands end the process with QuickExit
// (cli/quick_exit.h) on the code these return, so the client's channel
// and gRPC's threads are never torn down there. Both return normally;
// tests call them like any function.
int RunSubmit(CoordinatorClient& client, const SubmitCommand& cmd);

int RunStatus(const ClientOptions& client, uint64_t job_id, bool json);
int RunWatch(CoordinatorClient& client, uint64_t job_id,
             const WaitOptions& wait);
int RunCancel(const ClientOptions& client, uint64_t job_id, bool json);
// cli/fetch_command.cc: a job's outputs from the coordinator's store into
// `dir` on this host.
Subcommand AddFetchCommand(CLI::App& app, const GlobalOptions& global);
int RunFetch(const ClientOptions& client, uint64_t job_id,
             const std::string& dir);
int RunJobs(const ClientOptions& client, bool json);
int RunWorkers(const ClientOptions& client, bool json);

struct LocalCommand {
  LocalClusterOptions cluster;
  JobRequest job;
  WaitOptions wait;
};
// Never quick-exits: it must stop its cluster and remove its directory.
int RunLocal(const LocalCommand& cmd);

}  // namespace shardex

#endif  // SHARDEX_CLI_COMMANDS_H_
