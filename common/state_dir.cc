#include "common/state_dir.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace shardex {

std::string DefaultStateDir() {
  const char* xdg = getenv("XDG_DATA_HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    return absl::StrCat(xdg, "/shardex/coordinator");
  }
  const char* home = getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return absl::StrCat(home, "/.local/share/shardex/coordinator");
  }
  return absl::StrCat("/tmp/shardex-", getuid(), "/coordinator");
}

}  // namespace shardex
