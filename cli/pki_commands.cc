#include "cli/pki_commands.h"

#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/client_config.h"
#include "cli/enroll.h"
#include "cli/exit_codes.h"
#include "cli/shared_flags.h"
#include "common/file_util.h"
#include "common/pki.h"
#include "common/state_dir.h"
#include "common/status_macros.h"
#include "coordinator/cert_registry.h"
#include "coordinator/join_tokens.h"

namespace shardex {

namespace {

std::string PkiDir(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/pki");
}

// The running (or last run) coordinator's CA fingerprint.
absl::StatusOr<std::string> CaFingerprint(const std::string& state_dir) {
  absl::StatusOr<std::string> ca = ReadFile(PkiDir(state_dir) + "/ca.crt");
  if (!ca.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no built-in CA in ", PkiDir(state_dir),
        ": start the coordinator with this --state-dir beyond loopback, or "
        "with --builtin-ca, first"));
  }
  return CertificateFingerprint(*ca);
}

absl::StatusOr<std::unique_ptr<JoinTokenStore>> OpenTokens(
    const std::string& state_dir) {
  RETURN_IF_ERROR(CaFingerprint(state_dir).status());
  return JoinTokenStore::Open(PkiDir(state_dir) + "/join_tokens.db");
}

std::string When(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

// The exit code for `st`, its error printed.
int Report(const absl::Status& st) { return st.ok() ? kExitOk : Fail(st); }

struct TokenCreate {
  std::string state_dir = DefaultStateDir();
  std::string role;
  absl::Duration ttl = absl::Hours(24);
  int64_t uses = 0;
};

absl::Status CreateToken(const TokenCreate& flags) {
  ASSIGN_OR_RETURN(std::string fingerprint, CaFingerprint(flags.state_dir));
  ASSIGN_OR_RETURN(CertRole role, ParseCertRole(flags.role));
  ASSIGN_OR_RETURN(std::unique_ptr<JoinTokenStore> store,
                   OpenTokens(flags.state_dir));
  const absl::Time now = absl::Now();
  ASSIGN_OR_RETURN(JoinToken token, store->Create(fingerprint, role, flags.ttl,
                                                  flags.uses, now));
  std::cout << token.ToString() << "\n";
  std::cerr << "join token " << token.id << " for a " << flags.role
            << ", valid until " << When(now + flags.ttl) << ", "
            << (flags.uses == 0 ? std::string("any number of")
                                : absl::StrCat("at most ", flags.uses))
            << " uses. On the new host:\n  shardex "
            << (role == CertRole::kWorker ? "worker" : "login")
            << " --join - --coordinator HOST:PORT   (token on stdin)\n";
  return absl::OkStatus();
}

absl::Status ListTokens(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<JoinTokenStore> store,
                   OpenTokens(state_dir));
  ASSIGN_OR_RETURN(std::vector<JoinTokenRecord> tokens, store->List());
  const absl::Time now = absl::Now();
  std::cout << absl::StrFormat("%-8s  %-6s  %-23s  %-7s  %s\n", "ID", "ROLE",
                               "EXPIRES", "USES", "STATE");
  for (const JoinTokenRecord& t : tokens) {
    const std::string state = t.revoked             ? "revoked"
                              : now >= t.expires_at ? "expired"
                              : t.max_uses > 0 && t.uses >= t.max_uses
                                  ? "used up"
                                  : "valid";
    const std::string uses = t.max_uses == 0
                                 ? absl::StrCat(t.uses)
                                 : absl::StrCat(t.uses, "/", t.max_uses);
    std::cout << absl::StrFormat("%-8s  %-6s  %-23s  %-7s  %s\n", t.id, t.role,
                                 When(t.expires_at), uses, state);
  }
  return absl::OkStatus();
}

absl::Status RevokeToken(const std::string& state_dir, const std::string& id) {
  ASSIGN_OR_RETURN(std::unique_ptr<JoinTokenStore> store,
                   OpenTokens(state_dir));
  RETURN_IF_ERROR(store->Revoke(id, absl::Now()));
  std::cerr << "join token " << id << " revoked\n";
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CertRegistry>> OpenRegistry(
    const std::string& state_dir) {
  RETURN_IF_ERROR(CaFingerprint(state_dir).status());
  return CertRegistry::Open(PkiDir(state_dir) + "/registry.db");
}

absl::Status ListCerts(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<CertRegistry> registry,
                   OpenRegistry(state_dir));
  ASSIGN_OR_RETURN(std::vector<IssuedCert> certs, registry->List());
  const absl::Time now = absl::Now();
  std::cout << absl::StrFormat("%-32s  %-6s  %-23s  %-7s  %s\n", "SERIAL",
                               "ROLE", "EXPIRES", "STATE", "NAME");
  for (const IssuedCert& c : certs) {
    const char* state = c.revoked            ? "revoked"
                        : now >= c.not_after ? "expired"
                                             : "valid";
    std::cout << absl::StrFormat("%-32s  %-6s  %-23s  %-7s  %s\n", c.serial_hex,
                                 c.role, When(c.not_after), state, c.name);
  }
  return absl::OkStatus();
}

absl::Status RevokeCert(const std::string& state_dir,
                        const std::string& serial) {
  ASSIGN_OR_RETURN(std::unique_ptr<CertRegistry> registry,
                   OpenRegistry(state_dir));
  RETURN_IF_ERROR(registry->Revoke(serial, absl::Now()));
  std::cerr << "certificate " << serial
            << " revoked; the coordinator refuses it from its next call\n";
  return absl::OkStatus();
}

void AddStateDirFlag(CLI::App* cmd, std::string* state_dir) {
  cmd->add_option("--state-dir", *state_dir,
                  "the coordinator's state directory")
      ->capture_default_str();
}

struct LoginFlags {
  EnrollOptions enroll;
  std::string join;
};

}  // namespace

std::string ReadJoinFlag(const std::string& flag) {
  if (flag != "-") return flag;
  std::string line;
  std::getline(std::cin, line);
  return line;
}

Subcommand AddTokenCommand(CLI::App& app, const GlobalOptions&) {
  auto create = std::make_shared<TokenCreate>();
  auto state_dir = std::make_shared<std::string>(DefaultStateDir());
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "token", "join tokens of this host's coordinator (built-in CA)");
  cmd->require_subcommand(1);
  CLI::App* c = cmd->add_subcommand(
      "create", "print a new join token for a worker or a client");
  c->add_option("--role", create->role, "worker or client")
      ->required()
      ->check(CLI::IsMember({"worker", "client"}));
  AddDurationOption(c, "--ttl", &create->ttl, "how long the token is valid");
  c->add_option("--uses", create->uses, "joins allowed (0: any number)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  AddStateDirFlag(c, &create->state_dir);
  CLI::App* list = cmd->add_subcommand("list", "list join tokens");
  AddStateDirFlag(list, state_dir.get());
  CLI::App* revoke = cmd->add_subcommand("revoke", "revoke a join token");
  revoke->add_option("ID", *id, "the token's id (the part before the dot)")
      ->required();
  AddStateDirFlag(revoke, state_dir.get());
  return {cmd, [=] {
            if (c->parsed()) return Report(CreateToken(*create));
            if (list->parsed()) return Report(ListTokens(*state_dir));
            return Report(RevokeToken(*state_dir, *id));
          }};
}

Subcommand AddCertCommand(CLI::App& app, const GlobalOptions&) {
  auto state_dir = std::make_shared<std::string>(DefaultStateDir());
  auto serial = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "cert", "certificates this host's coordinator issued (built-in CA)");
  cmd->require_subcommand(1);
  CLI::App* list = cmd->add_subcommand("list", "list issued certificates");
  AddStateDirFlag(list, state_dir.get());
  CLI::App* revoke = cmd->add_subcommand(
      "revoke", "refuse a certificate from the coordinator's next call on");
  revoke->add_option("SERIAL", *serial, "serial number (hex)")->required();
  AddStateDirFlag(revoke, state_dir.get());
  return {cmd, [=] {
            if (list->parsed()) return Report(ListCerts(*state_dir));
            return Report(RevokeCert(*state_dir, *serial));
          }};
}

Subcommand AddLoginCommand(CLI::App& app, const GlobalOptions&) {
  auto flags = std::make_shared<LoginFlags>();
  flags->enroll.role = "client";
  flags->enroll.coordinator = DefaultCoordinator();
  flags->enroll.dir = ClientIdentityDir();
  CLI::App* cmd = app.add_subcommand(
      "login",
      "enrol this user with a coordinator's join token; later "
      "commands then need no flags");
  cmd->add_option("--join", flags->join,
                  "join token from `shardex token create --role client` "
                  "(\"-\": read it from stdin)")
      ->required();
  cmd->add_option("--coordinator", flags->enroll.coordinator,
                  "coordinator address host:port")
      ->capture_default_str();
  cmd->add_option("--name", flags->enroll.name,
                  "name in the certificate (default: user@host)");
  cmd->add_option("--config-dir", flags->enroll.dir,
                  "where the key, certificates and config go")
      ->capture_default_str();
  return {cmd, [flags] {
            EnrollOptions enroll = flags->enroll;
            enroll.join_token = ReadJoinFlag(flags->join);
            if (enroll.name.empty()) {
              const char* user = getenv("USER");
              char host[256] = {};
              gethostname(host, sizeof(host) - 1);
              enroll.name =
                  absl::StrCat(user != nullptr ? user : "user", "@", host);
            }
            absl::StatusOr<ClientConfig> config = Enroll(enroll);
            if (!config.ok()) return Fail(config.status());
            std::cerr << "logged in to " << config->coordinator
                      << " as client \"" << enroll.name << "\"; settings in "
                      << enroll.dir << "/config\n";
            return static_cast<int>(kExitOk);
          }};
}

}  // namespace shardex
