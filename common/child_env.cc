#include "common/child_env.h"

#include <unistd.h>

#include "absl/strings/match.h"

extern char** environ;

namespace shardex {

std::map<std::string, std::string> AllowedEnvironment() {
  static constexpr const char* kNames[] = {"PATH", "HOME",   "USER",
                                           "LOGNAME", "LANG", "TZ", "TMPDIR"};
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = entry.substr(0, eq);
    bool allowed = absl::StartsWith(name, "LC_");
    for (const char* n : kNames) allowed = allowed || name == n;
    if (allowed) env[name] = entry.substr(eq + 1);
  }
  if (env.count("PATH") == 0) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  return env;
}

}  // namespace shardex
