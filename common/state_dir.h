// Where a coordinator keeps its state by default (journal, token).
//
// Thread-safety: safe from any thread (reads the environment).
#ifndef SHARDEX_COMMON_STATE_DIR_H_
#define SHARDEX_COMMON_STATE_DIR_H_

#include <string>

namespace shardex {

// The default --state-dir: $XDG_DATA_HOME/shardex/coordinator (an absolute
// XDG_DATA_HOME only, as the XDG spec says), else
// $HOME/.local/share/shardex/coordinator, else /tmp/shardex-<uid>/coordinator.
std::string DefaultStateDir();

}  // namespace shardex

#endif  // SHARDEX_COMMON_STATE_DIR_H_
