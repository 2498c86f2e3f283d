// shardex: one binary for the coordinator, the workers and the client.
// main is a table of subcommands (cli/commands.h): each registers its own
// flags into its own options struct; main parses the command line once and
// runs the subcommand that was named.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/job_flags.h"
#include "cli/pki_commands.h"
#include "cli/shared_flags.h"
#include "common/allocator.h"
#include "common/build_id.h"
#include "common/grpc_logging.h"
#include "common/sanitizers.h"
#include "common/version.h"
#include "glog/logging.h"

namespace shardex {
namespace {

// In the order `shardex --help` lists them.
constexpr AddCommandFunction kSubcommands[] = {
    AddCoordinatorCommand, AddWorkerCommand,  AddSubmitCommand,
    AddStatusCommand,      AddWatchCommand,   AddCancelCommand,
    AddJobsCommand,        AddWorkersCommand, AddFetchCommand,
    AddLocalCommand,
    AddHealthCommand,      AddTokenCommand,   AddCertCommand,
    AddLoginCommand,
};

// Parses `args`; on a parse error prints it (or the subcommand's own
// explanation of arguments it does not know) and returns false with the
// exit code in `*exit_code`.
bool Parse(CLI::App& app, const std::vector<Subcommand>& subcommands,
           const std::vector<std::string>& args, int* exit_code) {
  std::vector<const char*> cargs;
  for (const std::string& a : args) cargs.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
    return true;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      *exit_code = app.exit(e);
      return false;
    }
    std::string message = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      for (const Subcommand& sub : subcommands) {
        if (sub.app->parsed() && sub.explain_extras) {
          message = sub.explain_extras(app.remaining());
        }
      }
    }
    *exit_code = UsageError(message);
    return false;
  }
}

// `shardex --version`: "shardex 0.8.0 (build 3f9a...; tcmalloc 2.10)", the
// build id being the binary's own (common/build_id.h), so a deployed copy
// can be matched to its build with `readelf -n`, and the allocator the one
// it runs on (common/allocator.h).
std::string VersionLine() {
  const std::string id = ProgramBuildId();
  return std::string("shardex ") + kVersion + " (build " +
         (id.empty() ? "id unknown" : id) + "; " + AllocatorName() + ")";
}

// "debug" is "info" plus gRPC's own log lines (common/grpc_logging.h).
void InitLogging(const std::string& level, const char* argv0) {
  FLAGS_logtostderr = true;
  FLAGS_minloglevel =
      level == "info" || level == "debug" ? 0 : level == "warning" ? 1 : 2;
  google::InitGoogleLogging(argv0);
  RouteGrpcLogsToGlog(level == "debug");
}

int Main(int argc, char** argv) {
  CLI::App app{"shardex: split CPU-bound jobs into shards and run them on a "
               "cluster of workers."};
  app.footer(kExitCodeHelp);
  app.set_version_flag("--version", VersionLine());
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("--log-level", global.log_level,
                 "log level of coordinator and worker processes; debug adds "
                 "gRPC's own log lines")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  std::vector<Subcommand> subcommands;
  for (AddCommandFunction add : kSubcommands) {
    subcommands.push_back(add(app, global));
  }

  // A command job's program follows `--`; keep it away from the parser.
  std::vector<std::string> args(argv, argv + argc);
  global.command = SplitAtDoubleDash(args);
  int exit_code = kExitUsage;
  if (!Parse(app, subcommands, args, &exit_code)) return exit_code;

  InitLogging(global.log_level, argv[0]);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex keeps a
  // global lock-order graph up to date on each lock and destruction (and
  // aborts on a cycle): a large share of a worker's time with trivial
  // shards (bench/README.md, throughput). Release builds do what an NDEBUG
  // Abseil does; the sanitizer builds the tests run keep the check.
  if (!SanitizerBuild()) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  for (const Subcommand& sub : subcommands) {
    if (sub.app->parsed()) return sub.run();
  }
  return kExitUsage;
}

}  // namespace
}  // namespace shardex

int main(int argc, char** argv) { return shardex::Main(argc, argv); }
