// `shardex health`: asks a coordinator's gRPC health service whether it
// (or one of its services) is SERVING. For load balancers, init systems
// and scripts: exit 0 when it is, non-zero with the reason otherwise. Needs
// no token; takes the TLS flags like every command that dials the
// coordinator.
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/shared_flags.h"

namespace shardex {

namespace {

struct HealthCommand {
  ClientFlags client;  // --token-file is accepted but not needed
  std::string service;
};

int RunHealth(const HealthCommand& cmd) {
  CoordinatorClient client(cmd.client.options);
  absl::Status st = client.CheckHealth(cmd.service);
  if (!st.ok()) return Fail(st);
  std::cout << (cmd.service.empty() ? "coordinator" : cmd.service) << " at "
            << cmd.client.options.coordinator << ": SERVING\n";
  return kExitOk;
}

}  // namespace

Subcommand AddHealthCommand(CLI::App& app, const GlobalOptions&) {
  auto cmd = std::make_shared<HealthCommand>();
  CLI::App* sub = app.add_subcommand(
      "health", "check that a coordinator is up and serving (exit 0)");
  cmd->client.Register(sub);
  sub->add_option("--service", cmd->service,
                  "the service to ask about: shardex.v1.Coordinator or "
                  "shardex.v1.WorkerGateway (default: the whole server)");
  return {sub, [cmd] { return RunHealth(*cmd); }};
}

}  // namespace shardex
