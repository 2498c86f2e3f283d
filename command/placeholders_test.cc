#include "command/placeholders.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

ShardVars Vars() {
  ShardVars v;
  v.shard = 3;
  v.shards = 10;
  v.begin = 300;
  v.end = 400;
  v.input = "/data/in 3.txt";
  v.output = "/tmp/w/output";
  return v;
}

TEST(PlaceholdersTest, ExpandsEveryPlaceholder) {
  EXPECT_EQ(ExpandPlaceholders("--seed={shard}/{shards}", Vars()),
            "--seed=3/10");
  EXPECT_EQ(ExpandPlaceholders("{begin}:{end}", Vars()), "300:400");
  EXPECT_EQ(ExpandPlaceholders("{input}>{output}", Vars()),
            "/data/in 3.txt>/tmp/w/output");
}

TEST(PlaceholdersTest, LeavesOtherBracesAlone) {
  EXPECT_EQ(ExpandPlaceholders("{print $1} {shardx} {", Vars()),
            "{print $1} {shardx} {");
}

TEST(PlaceholdersTest, ShellJoinsArgumentsOnlyWhenAsked) {
  shardex::v1::CommandSpec spec;
  spec.add_argv("echo");
  spec.add_argv("a b");
  spec.add_argv("{shard}");
  std::vector<std::string> plain = ShardArgv(spec, Vars());
  EXPECT_EQ(plain, (std::vector<std::string>{"echo", "a b", "3"}));
  spec.set_shell(true);
  std::vector<std::string> shell = ShardArgv(spec, Vars());
  EXPECT_EQ(shell, (std::vector<std::string>{"/bin/sh", "-c", "echo a b 3"}));
}

TEST(PlaceholdersTest, EnvironmentDescribesTheShard) {
  auto env = ShardEnvironment(7, 2, Vars());
  bool saw_attempt = false;
  for (auto& [k, v] : env) {
    EXPECT_EQ(k.rfind("SHARDEX_", 0), 0u);
    if (k == "SHARDEX_ATTEMPT") saw_attempt = v == "2";
  }
  EXPECT_TRUE(saw_attempt);
}

TEST(PlaceholdersTest, CommandShardVarsNameTheShardsInput) {
  shardex::v1::CommandSpec spec;
  spec.add_inputs("/in/a");
  spec.add_inputs("/in/b");
  const ShardVars v = CommandShardVars(spec, 1, 2, ShardRange{1, 2});
  EXPECT_EQ(v.shard, 1u);
  EXPECT_EQ(v.shards, 2u);
  EXPECT_EQ(v.begin, 1u);
  EXPECT_EQ(v.end, 2u);
  EXPECT_EQ(v.input, "/in/b");
  EXPECT_EQ(v.output, "");  // the runner names it in the shard's directory

  shardex::v1::CommandSpec lines;
  lines.set_lines("/in/big.txt");
  const ShardVars l = CommandShardVars(lines, 3, 4, ShardRange{300, 400});
  EXPECT_EQ(l.input, "/in/big.txt");
  EXPECT_EQ(l.begin, 300u);
  EXPECT_EQ(l.end, 400u);

  EXPECT_EQ(CommandShardVars({}, 0, 1, ShardRange{0, 1}).input, "");
}

}  // namespace
}  // namespace shardex
