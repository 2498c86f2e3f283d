// The environment user programs start with: an allow-list of this process's
// variables (PATH, HOME, USER, LOGNAME, LANG, LC_*, TZ, TMPDIR), so secrets
// and settings in the worker's environment do not leak into shards.
//
// Thread-safety: reads environ; call while no thread modifies it.
#ifndef SHARDEX_COMMON_CHILD_ENV_H_
#define SHARDEX_COMMON_CHILD_ENV_H_

#include <map>
#include <string>

namespace shardex {

std::map<std::string, std::string> AllowedEnvironment();

}  // namespace shardex

#endif  // SHARDEX_COMMON_CHILD_ENV_H_
