// The `shardex` subcommands. main.cc parses flags into these option structs
// and calls one Run* function, whose return value is the exit code
// (cli/exit_codes.h). Nothing here reads flags.
#ifndef SHARDEX_CLI_COMMANDS_H_
#define SHARDEX_CLI_COMMANDS_H_

#include <cstdint>
#include <string>

#include "cli/local_cluster.h"
#include "client/client.h"
#include "coordinator/server.h"
#include "kernels/kernel.h"
#include "worker/worker.h"

namespace shardex {

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
  ClientOptions client;
  JobRequest job;
  bool detach = false;  // print the job id and return at once
  WaitOptions wait;
};
int RunSubmit(const SubmitCommand& cmd);

int RunStatus(const ClientOptions& client, uint64_t job_id, bool json);
int RunWatch(const ClientOptions& client, uint64_t job_id,
             const WaitOptions& wait);
int RunCancel(const ClientOptions& client, uint64_t job_id, bool json);
int RunJobs(const ClientOptions& client, bool json);
int RunWorkers(const ClientOptions& client, bool json);

struct LocalCommand {
  LocalClusterOptions cluster;
  JobRequest job;
  WaitOptions wait;
};
int RunLocal(const LocalCommand& cmd);

}  // namespace shardex

#endif  // SHARDEX_CLI_COMMANDS_H_
