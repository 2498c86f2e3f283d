// The shardex version, sent by workers when they register and printed by
// `shardex --version`.
#ifndef SHARDEX_COMMON_VERSION_H_
#define SHARDEX_COMMON_VERSION_H_

namespace shardex {
inline constexpr char kVersion[] = "0.8.0";
}  // namespace shardex

#endif  // SHARDEX_COMMON_VERSION_H_
