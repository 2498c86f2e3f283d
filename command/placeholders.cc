#include "command/placeholders.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace shardex {

ShardVars CommandShardVars(const v1::CommandSpec& spec, uint64_t shard,
                           uint64_t shards, ShardRange range) {
  ShardVars v;
  v.shard = shard;
  v.shards = shards;
  v.begin = range.begin;
  v.end = range.end;
  if (shard < static_cast<uint64_t>(spec.inputs_size())) {
    v.input = spec.inputs(shard);
  } else if (!spec.lines().empty()) {
    v.input = spec.lines();
  }
  return v;
}

std::string ExpandPlaceholders(const std::string& arg, const ShardVars& v) {
  if (arg.find('{') == std::string::npos) return arg;
  return absl::StrReplaceAll(arg, {{"{shard}", absl::StrCat(v.shard)},
                                   {"{shards}", absl::StrCat(v.shards)},
                                   {"{begin}", absl::StrCat(v.begin)},
                                   {"{end}", absl::StrCat(v.end)},
                                   {"{input}", v.input},
                                   {"{output}", v.output}});
}

std::vector<std::string> ShardArgv(const shardex::v1::CommandSpec& spec,
                                   const ShardVars& vars) {
  std::vector<std::string> argv;
  for (const std::string& a : spec.argv()) {
    argv.push_back(ExpandPlaceholders(a, vars));
  }
  if (spec.shell()) return {"/bin/sh", "-c", absl::StrJoin(argv, " ")};
  return argv;
}

std::vector<std::pair<std::string, std::string>> ShardEnvironment(
    uint64_t job_id, uint32_t attempt, const ShardVars& v) {
  return {{"SHARDEX_JOB_ID", absl::StrCat(job_id)},
          {"SHARDEX_SHARD", absl::StrCat(v.shard)},
          {"SHARDEX_SHARDS", absl::StrCat(v.shards)},
          {"SHARDEX_ATTEMPT", absl::StrCat(attempt)},
          {"SHARDEX_BEGIN", absl::StrCat(v.begin)},
          {"SHARDEX_END", absl::StrCat(v.end)},
          {"SHARDEX_INPUT", v.input},
          {"SHARDEX_OUTPUT", v.output}};
}

}  // namespace shardex
