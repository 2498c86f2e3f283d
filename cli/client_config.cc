#include "cli/client_config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/key_file.h"

namespace shardex {

namespace {

constexpr char kConfigFile[] = "config";

// $<xdg_var>/<suffix> for an absolute value, else $HOME/<home_suffix>,
// else /tmp/shardex-<uid>/<tmp_suffix>.
std::string XdgDir(const char* xdg_var, const char* home_dir,
                   const char* suffix, const char* tmp_suffix) {
  const char* xdg = getenv(xdg_var);
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/", suffix);
  const char* home = getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return absl::StrCat(home, "/", home_dir, "/", suffix);
  }
  return absl::StrCat("/tmp/shardex-", getuid(), "/", tmp_suffix);
}

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

std::string ClientIdentityDir() {
  return XdgDir("XDG_CONFIG_HOME", ".config", "shardex", "config");
}

std::string WorkerIdentityDir() {
  return XdgDir("XDG_DATA_HOME", ".local/share", "shardex/worker", "worker");
}

TlsFiles IdentityFiles(const std::string& dir) {
  return TlsFiles{absl::StrCat(dir, "/cert.pem"), absl::StrCat(dir, "/key.pem"),
                  absl::StrCat(dir, "/ca.pem")};
}

absl::StatusOr<std::optional<ClientConfig>> ReadClientConfig(
    const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kConfigFile);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  ClientConfig config;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    const std::string key(absl::StripAsciiWhitespace(kv.first));
    const std::string value(absl::StripAsciiWhitespace(kv.second));
    if (key == "coordinator") {
      config.coordinator = value;
    } else if (key == "tls_ca") {
      config.tls.ca = value;
    } else if (key == "tls_cert") {
      config.tls.cert = value;
    } else if (key == "tls_key") {
      config.tls.key = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown setting \"", key, "\""));
    }
  }
  return config;
}

absl::Status WriteClientConfig(const std::string& dir,
                               const ClientConfig& config) {
  return WriteKeyFile(
      absl::StrCat(dir, "/", kConfigFile),
      absl::StrCat("# written by shardex login / worker --join\n",
                   "coordinator = ", config.coordinator, "\n", "tls_ca = ",
                   config.tls.ca, "\n", "tls_cert = ", config.tls.cert, "\n",
                   "tls_key = ", config.tls.key, "\n"));
}

bool ApplyConfig(const std::optional<ClientConfig>& config,
                 bool coordinator_given, std::string* coordinator,
                 TlsFiles* tls) {
  if (config.has_value() && !coordinator_given &&
      Env("SHARDEX_COORDINATOR").empty()) {
    *coordinator = config->coordinator;
  }
  if (tls->any()) return false;
  const TlsFiles env{Env("SHARDEX_TLS_CERT"), Env("SHARDEX_TLS_KEY"),
                     Env("SHARDEX_TLS_CA")};
  if (env.any()) {
    *tls = env;
    return false;
  }
  if (!config.has_value() || config->coordinator != *coordinator) return false;
  *tls = config->tls;
  return true;
}

}  // namespace shardex
