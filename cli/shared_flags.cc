#include "cli/shared_flags.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "cli/exit_codes.h"
#include "cli/enroll.h"
#include "common/token.h"

namespace shardex {

namespace {

constexpr char kDefaultCoordinator[] = "127.0.0.1:7473";

absl::Duration ToDuration(const std::string& s) {
  absl::Duration d;
  absl::ParseDuration(s, &d);
  return d;
}

CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        absl::Duration d;
        if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration()) {
          return "'" + s + "' is not a positive duration like 500ms or 3s";
        }
        return "";
      },
      "DURATION");
}

}  // namespace

std::string DefaultCoordinator() {
  const char* env = std::getenv("SHARDEX_COORDINATOR");
  return env != nullptr && *env != '\0' ? env : kDefaultCoordinator;
}

CLI::Option* AddDurationOption(CLI::App* cmd, const std::string& name,
                               absl::Duration* out, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name, [out](const std::string& s) { *out = ToDuration(s); }, help)
      ->check(DurationValidator())
      ->default_str(absl::FormatDuration(*out));
}

void AddAccessFlags(CLI::App* cmd, std::string* token_file, TlsFiles* tls) {
  cmd->add_option("--token-file", *token_file,
                  "the coordinator's access token (default: "
                  "$SHARDEX_TOKEN_FILE, else <default state dir>/token)");
  cmd->add_option("--tls-ca", tls->ca,
                  "CA certificate (PEM) that signed the coordinator's; "
                  "turns TLS on");
  cmd->add_option("--tls-cert", tls->cert,
                  "client certificate (PEM) for a mutual-TLS coordinator");
  cmd->add_option("--tls-key", tls->key, "private key of --tls-cert");
}

bool LoadToken(const std::string& flag, std::string* token) {
  const std::string path = flag.empty() ? DefaultTokenFile() : flag;
  if (path.empty()) return true;  // calls will say how to pass one
  absl::StatusOr<std::string> read = ReadTokenFile(path);
  if (!read.ok()) {
    std::cerr << "shardex: " << read.status().message() << "\n";
    return false;
  }
  *token = *std::move(read);
  return true;
}

void ClientFlags::Register(CLI::App* cmd) {
  options.coordinator = DefaultCoordinator();
  coordinator_flag =
      cmd->add_option("--coordinator", options.coordinator,
                      "coordinator address host:port (env "
                      "SHARDEX_COORDINATOR, else `shardex login`'s)")
          ->capture_default_str();
  AddAccessFlags(cmd, &token_file, &options.tls);
  AddDurationOption(cmd, "--rpc-timeout", &options.deadline,
                    "deadline of each call");
}

bool ClientFlags::LoadToken() {
  if (!shardex::LoadToken(token_file, &options.token)) return false;
  absl::Status st = ApplyLogin(coordinator_flag->count() > 0, &options);
  if (!st.ok()) std::cerr << "shardex: " << st.message() << "\n";
  return st.ok();
}

Subcommand AddQueryCommand(CLI::App& app, const std::string& name,
                           const std::string& help, bool takes_job,
                           std::function<int(const QueryFlags&)> run) {
  auto flags = std::make_shared<QueryFlags>();
  CLI::App* cmd = app.add_subcommand(name, help);
  flags->client.Register(cmd);
  if (takes_job) cmd->add_option("JOB", flags->job_id, "job id")->required();
  cmd->add_flag("--json", flags->json, "print JSON");
  return {cmd, [flags, run] {
            if (!flags->client.LoadToken()) return static_cast<int>(kExitUsage);
            return run(*flags);
          }};
}

int UsageError(absl::string_view message) {
  std::cerr << "shardex: " << message << "\nRun with --help for usage.\n";
  return kExitUsage;
}

int Fail(const absl::Status& status) {
  std::cerr << "shardex: " << status.message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace shardex
