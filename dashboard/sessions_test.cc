#include "dashboard/sessions.h"

#include <string>

#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(SessionStoreTest, IdsAreRandom256BitHex) {
  FakeClock clock;
  SessionStore store(&clock);
  const std::string a = store.Create();
  const std::string b = store.Create();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_TRUE(store.Valid(a));
  EXPECT_TRUE(store.Valid(b));
  EXPECT_FALSE(store.Valid(""));
  EXPECT_FALSE(store.Valid(std::string(64, '0')));
}

TEST(SessionStoreTest, ExpiresAfterItsLifetime) {
  FakeClock clock;
  SessionStore store(&clock, {absl::Hours(12), 10});
  const std::string id = store.Create();
  clock.Advance(absl::Hours(12) - absl::Seconds(1));
  EXPECT_TRUE(store.Valid(id));  // no sliding renewal...
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(store.Valid(id));  // ...so it ends 12 h after login
  EXPECT_EQ(store.size(), 0u);
}

TEST(SessionStoreTest, TheCapEvictsTheOldest) {
  FakeClock clock;
  SessionStore store(&clock, {absl::Hours(12), 3});
  std::string ids[4];
  for (std::string& id : ids) {
    id = store.Create();
    clock.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(store.size(), 3u);
  EXPECT_FALSE(store.Valid(ids[0]));
  EXPECT_TRUE(store.Valid(ids[1]));
  EXPECT_TRUE(store.Valid(ids[3]));
}

TEST(SessionStoreTest, RemoveLogsOut) {
  FakeClock clock;
  SessionStore store(&clock);
  const std::string id = store.Create();
  store.Remove(id);
  store.Remove("unknown");
  EXPECT_FALSE(store.Valid(id));
}

}  // namespace
}  // namespace shardex
