#include "common/state_dir.h"

#include <stdlib.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cstdio>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/token.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(StateDirTest, DefaultStateDirFollowsXdgThenHome) {
  {
    ScopedEnv xdg("XDG_DATA_HOME", "/xdg/data");
    ScopedEnv home("HOME", "/home/ann");
    EXPECT_EQ(DefaultStateDir(), "/xdg/data/shardex/coordinator");
  }
  for (const char* unusable : {"", "relative/data"}) {
    ScopedEnv xdg("XDG_DATA_HOME", unusable);
    ScopedEnv home("HOME", "/home/ann");
    EXPECT_EQ(DefaultStateDir(), "/home/ann/.local/share/shardex/coordinator");
  }
  {
    ScopedEnv xdg("XDG_DATA_HOME", nullptr);
    ScopedEnv home("HOME", nullptr);
    EXPECT_EQ(DefaultStateDir(),
              absl::StrCat("/tmp/shardex-", getuid(), "/coordinator"));
  }
}


std::string Tmp(const std::string& name) {
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
}

TEST(TokenTest, CreatedOnceWithMode0600ThenRead) {
  const std::string path = Tmp("token-a");
  bool created = false;
  auto first = LoadOrCreateTokenFile(path, &created);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(created);
  EXPECT_EQ(first->size(), 64u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateTokenFile(path, &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(*second, *first);
  bool other = false;
  auto different = LoadOrCreateTokenFile(Tmp("token-b"), &other);
  ASSERT_TRUE(different.ok());
  EXPECT_NE(*different, *first);  // random
}

TEST(TokenTest, FileOthersCanReadIsRefused) {
  const std::string path = Tmp("token-open");
  bool created = false;
  ASSERT_TRUE(LoadOrCreateTokenFile(path, &created).ok());
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto token = ReadTokenFile(path);
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(token.status().message().find("chmod 600"), std::string::npos);
}

TEST(TokenTest, MalformedOrMissingTokenIsAnError) {
  const std::string path = Tmp("token-short");
  FILE* f = fopen(path.c_str(), "w");
  fputs("short\n", f);
  fclose(f);
  chmod(path.c_str(), 0600);
  EXPECT_EQ(ReadTokenFile(path).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadTokenFile(Tmp("no-such-token")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TokenTest, CompareIsExact) {
  const std::string t = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(TokensEqual(t, t));
  EXPECT_FALSE(TokensEqual("0123456789ABCDEF0123456789abcdef", t));
  EXPECT_FALSE(TokensEqual(t.substr(0, 31), t));
  EXPECT_FALSE(TokensEqual("", t));
}

TEST(TokenTest, DefaultTokenFileFollowsEnvThenStateDir) {
  ScopedEnv env("SHARDEX_TOKEN_FILE", "/etc/shardex/token");
  EXPECT_EQ(DefaultTokenFile(), "/etc/shardex/token");
  ScopedEnv none("SHARDEX_TOKEN_FILE", nullptr);
  ScopedEnv xdg("XDG_DATA_HOME", Tmp("xdg").c_str());
  EXPECT_EQ(DefaultTokenFile(), "");  // no file there
  ASSERT_EQ(system(absl::StrCat("mkdir -p ", Tmp("xdg/shardex/coordinator"))
                       .c_str()),
            0);
  bool created = false;
  ASSERT_TRUE(
      LoadOrCreateTokenFile(Tmp("xdg/shardex/coordinator/token"), &created)
          .ok());
  EXPECT_EQ(DefaultTokenFile(), Tmp("xdg/shardex/coordinator/token"));
}

}  // namespace
}  // namespace shardex
