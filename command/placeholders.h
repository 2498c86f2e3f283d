// Placeholders of command jobs: {shard} {shards} {begin} {end} {input}
// {output} in a command's arguments, filled in per shard on the worker
// (worker/command_runner), and the SHARDEX_* variables with the same values.
// Anything else in braces (an awk program, say) is left alone.
//
// Thread-safety: pure functions.
#ifndef SHARDEX_COMMAND_PLACEHOLDERS_H_
#define SHARDEX_COMMAND_PLACEHOLDERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/split.h"
#include "proto/shardex.pb.h"

namespace shardex {

struct ShardVars {
  uint64_t shard = 0;
  uint64_t shards = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string input;   // the shard's input file, if any
  std::string output;  // path where the shard may write its output
};

// The shard variables of shard `shard` of `shards` of a command job; `range`
// is the shard's range of the job's domain. {input} is the shard's --inputs
// file, or the --lines file.
ShardVars CommandShardVars(const shardex::v1::CommandSpec& spec, uint64_t shard,
                           uint64_t shards, ShardRange range);

// Replaces every placeholder in `arg`.
std::string ExpandPlaceholders(const std::string& arg, const ShardVars& vars);

// The argv to run for one shard: the expanded arguments, or
// {"/bin/sh", "-c", <expanded arguments joined by spaces>} with `shell`.
std::vector<std::string> ShardArgv(const shardex::v1::CommandSpec& spec,
                                   const ShardVars& vars);

// The SHARDEX_* variables describing the shard, for the child's environment.
std::vector<std::pair<std::string, std::string>> ShardEnvironment(
    uint64_t job_id, uint32_t attempt, const ShardVars& vars);

}  // namespace shardex

#endif  // SHARDEX_COMMAND_PLACEHOLDERS_H_
