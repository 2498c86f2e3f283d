#include "worker/work_dir_pool.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/file_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void Touch(const std::string& path) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  fclose(f);
}

// Entries in `dir` other than "." and ".."; -1 if it cannot be listed.
int CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (const struct dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  }
  closedir(d);
  return n;
}

// The dirs the pool's reaper was given, in order; it removes them too.
struct Removals {
  absl::Mutex mu;
  std::vector<std::string> dirs ABSL_GUARDED_BY(mu);

  std::vector<std::string> Get() {
    absl::MutexLock lock(&mu);
    return dirs;
  }
};

class WorkDirPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    root_ = absl::StrCat(
        tmp != nullptr ? tmp : "/tmp", "/pool-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(root_.c_str(), 0700), 0) << root_;
    options_.reaper.threads = 1;  // removals in the order handed over
    options_.reaper.remove = [this](const std::string& dir) {
      absl::MutexLock lock(&removals_.mu);
      removals_.dirs.push_back(dir);
      return RemoveTree(dir);
    };
  }

  // Every dir the pool made is gone once it is destroyed.
  void TearDown() override { EXPECT_EQ(CountEntries(root_), 0) << root_; }

  std::string root_;
  WorkDirPool::Options options_;
  Removals removals_;
};

TEST_F(WorkDirPoolTest, HandsOutFreshPrivateDirsUnderTheRoot) {
  WorkDirPool pool(root_, options_);
  absl::StatusOr<std::string> a = pool.Acquire();
  absl::StatusOr<std::string> b = pool.Acquire();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->rfind(root_ + "/shard-", 0), 0u) << *a;
  struct stat st;
  ASSERT_EQ(lstat(a->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(CountEntries(*a), 0);
  pool.Release(*a);
  pool.Release(*b);
}

TEST_F(WorkDirPoolTest, ReusesAnEmptyReleasedDir) {
  WorkDirPool pool(root_, options_);
  const std::string first = *pool.Acquire();
  pool.Release(first);
  absl::StatusOr<std::string> again = pool.Acquire();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, first);
  EXPECT_EQ(CountEntries(root_), 1);  // no second dir was made
  pool.Release(*again);
  EXPECT_TRUE(removals_.Get().empty());
}

// Whatever a shard left (a file, a link, an empty subdir) keeps its dir
// from being reused: the reaper removes it.
TEST_F(WorkDirPoolTest, RemovesADirLeftNonEmpty) {
  std::vector<std::string> used;
  std::string fresh;
  {
    WorkDirPool pool(root_, options_);
    for (const std::string leave : {"file", "link", "subdir"}) {
      const std::string dir = *pool.Acquire();
      const std::string path = absl::StrCat(dir, "/", leave);
      if (leave == "file") Touch(path);
      if (leave == "link") ASSERT_EQ(symlink("/", path.c_str()), 0);
      if (leave == "subdir") ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
      pool.Release(dir);
      used.push_back(dir);
    }
    fresh = *pool.Acquire();
    EXPECT_EQ(CountEntries(fresh), 0);
    pool.Release(fresh);
  }
  EXPECT_EQ(std::set<std::string>(used.begin(), used.end()).size(), 3u);
  EXPECT_EQ(removals_.Get(),
            (std::vector<std::string>{used[0], used[1], used[2], fresh}));
  for (const std::string& dir : used) EXPECT_FALSE(Exists(dir)) << dir;
}

// The dir's mode is part of "private": one its shard opened up (or locked)
// is not reused.
TEST_F(WorkDirPoolTest, RemovesAnEmptyDirWhoseModeChanged) {
  WorkDirPool pool(root_, options_);
  const std::string dir = *pool.Acquire();
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  pool.Release(dir);
  const std::string next = *pool.Acquire();
  EXPECT_NE(next, dir);
  pool.Release(next);
}

// Checked again when handed out: a file that appeared in a kept dir (say,
// from an escaped grandchild) keeps it from the next shard.
TEST_F(WorkDirPoolTest, AHandedOutDirIsEmptyEvenIfWrittenWhileKept) {
  std::string dir, next;
  {
    WorkDirPool pool(root_, options_);
    dir = *pool.Acquire();
    pool.Release(dir);
    Touch(dir + "/late");
    next = *pool.Acquire();
    EXPECT_NE(next, dir);
    EXPECT_EQ(CountEntries(next), 0);
    pool.Release(next);
  }
  EXPECT_EQ(removals_.Get(), (std::vector<std::string>{dir, next}));
}

// A dir that vanished (while held or while kept) is forgotten, not an error.
TEST_F(WorkDirPoolTest, ForgetsADirThatVanished) {
  WorkDirPool pool(root_, options_);
  const std::string held = *pool.Acquire();
  ASSERT_EQ(rmdir(held.c_str()), 0);
  pool.Release(held);
  const std::string kept = *pool.Acquire();
  pool.Release(kept);
  ASSERT_EQ(rmdir(kept.c_str()), 0);
  absl::StatusOr<std::string> next = pool.Acquire();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(Exists(*next));
  pool.Release(*next);
}

TEST_F(WorkDirPoolTest, KeepsAtMostMaxIdle) {
  options_.max_idle = 2;
  std::vector<std::string> dirs;
  {
    WorkDirPool pool(root_, options_);
    for (int i = 0; i < 3; ++i) dirs.push_back(*pool.Acquire());
    for (const std::string& dir : dirs) pool.Release(dir);
    // Not waiting for the reaper: the third dir may still be there.
    EXPECT_EQ(*pool.Acquire(), dirs[1]);
    EXPECT_EQ(*pool.Acquire(), dirs[0]);
    const std::string fresh = *pool.Acquire();
    EXPECT_NE(fresh, dirs[2]);
    for (const std::string& dir : {dirs[0], dirs[1], fresh}) pool.Release(dir);
  }
  const std::vector<std::string> removed = removals_.Get();
  ASSERT_EQ(removed.size(), 4u);
  EXPECT_EQ(removed[0], dirs[2]);  // over the cap: removed at once
}

TEST_F(WorkDirPoolTest, DestructorRemovesKeptDirs) {
  std::vector<std::string> dirs;
  {
    WorkDirPool pool(root_, options_);
    for (int i = 0; i < 3; ++i) dirs.push_back(*pool.Acquire());
    for (const std::string& dir : dirs) pool.Release(dir);
    EXPECT_TRUE(removals_.Get().empty());
    for (const std::string& dir : dirs) EXPECT_TRUE(Exists(dir));
  }
  for (const std::string& dir : dirs) EXPECT_FALSE(Exists(dir)) << dir;
}

TEST_F(WorkDirPoolTest, MissingRootIsAnError) {
  WorkDirPool pool(root_ + "/missing", options_);
  EXPECT_EQ(pool.Acquire().status().code(), absl::StatusCode::kInternal);
}

// Runs fn(0) ... fn(n-1) on n threads at once.
void OnThreads(int n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (std::thread& thread : threads) thread.join();
}

// Threads taking dirs at once never share one, nor get one holding another
// thread's file; then they give them back at once, some left dirty.
TEST_F(WorkDirPoolTest, ConcurrentUsersGetDistinctEmptyDirs) {
  constexpr int kThreads = 4;
  WorkDirPool pool(root_, options_);
  for (int round = 0; round < 30; ++round) {
    std::vector<std::string> held(kThreads);
    OnThreads(kThreads, [&](int t) { held[t] = pool.Acquire().value_or(""); });
    EXPECT_EQ(std::set<std::string>(held.begin(), held.end()).size(),
              static_cast<size_t>(kThreads));
    for (const std::string& dir : held) EXPECT_EQ(CountEntries(dir), 0) << dir;
    OnThreads(kThreads, [&](int t) {
      if ((round + t) % 3 == 0) Touch(held[t] + "/mine");
      pool.Release(held[t]);
    });
  }
}

}  // namespace
}  // namespace shardex
