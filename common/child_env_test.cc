#include "common/child_env.h"

#include <stdlib.h>

#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(ChildEnvTest, KeepsOnlyTheAllowList) {
  setenv("SHARDEX_TEST_SECRET", "hunter2", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "x", 1);
  setenv("LC_ALL", "C", 1);
  setenv("PATH", "/usr/bin:/bin", 1);
  auto env = AllowedEnvironment();
  EXPECT_EQ(env.count("SHARDEX_TEST_SECRET"), 0u);
  EXPECT_EQ(env.count("AWS_SECRET_ACCESS_KEY"), 0u);
  EXPECT_EQ(env["LC_ALL"], "C");
  EXPECT_EQ(env["PATH"], "/usr/bin:/bin");
}

TEST(ChildEnvTest, SuppliesAPathWhenThereIsNone) {
  unsetenv("PATH");
  auto env = AllowedEnvironment();
  EXPECT_FALSE(env["PATH"].empty());
}

}  // namespace
}  // namespace shardex
