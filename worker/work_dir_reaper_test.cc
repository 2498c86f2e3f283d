#include "worker/work_dir_reaper.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/file_util.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// A fresh dir holding a file and a non-empty subdir.
std::string MakeTree() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/tree-XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  EXPECT_EQ(mkdir((dir + "/sub").c_str(), 0700), 0);
  FILE* f = fopen((dir + "/sub/file").c_str(), "w");
  EXPECT_NE(f, nullptr);
  if (f != nullptr) fclose(f);
  return dir;
}

// Which dirs were removed, on which threads.
struct Recorder {
  absl::Mutex mu;
  std::vector<std::pair<std::string, std::thread::id>> calls
      ABSL_GUARDED_BY(mu);

  std::function<absl::Status(const std::string&)> Fn() {
    return [this](const std::string& dir) {
      absl::MutexLock lock(&mu);
      calls.emplace_back(dir, std::this_thread::get_id());
      return absl::OkStatus();
    };
  }
};

TEST(WorkDirReaperTest, RemovesTreesByFlush) {
  WorkDirReaper reaper;
  const std::string a = MakeTree(), b = MakeTree();
  reaper.Remove(a);
  reaper.Remove(b);
  reaper.Flush();
  EXPECT_FALSE(Exists(a));
  EXPECT_FALSE(Exists(b));
  EXPECT_EQ(reaper.failures(), 0u);
}

// The point of the type: the caller (a shard's slot) does not remove.
TEST(WorkDirReaperTest, RemovesOffTheCallersThread) {
  Recorder recorder;
  WorkDirReaper::Options options;
  options.remove = recorder.Fn();
  WorkDirReaper reaper(options);
  for (int i = 0; i < 10; ++i) reaper.Remove(absl::StrCat("d", i));
  reaper.Flush();
  absl::MutexLock lock(&recorder.mu);
  ASSERT_EQ(recorder.calls.size(), 10u);
  for (const auto& [dir, thread] : recorder.calls) {
    EXPECT_NE(thread, std::this_thread::get_id()) << dir;
  }
  EXPECT_EQ(reaper.removed_inline(), 0u);
}

TEST(WorkDirReaperTest, DestructorRemovesWhatStillWaits) {
  std::vector<std::string> dirs;
  {
    WorkDirReaper reaper;
    for (int i = 0; i < 20; ++i) {
      dirs.push_back(MakeTree());
      reaper.Remove(dirs.back());
    }
  }
  for (const std::string& dir : dirs) EXPECT_FALSE(Exists(dir)) << dir;
}

// Beyond max_pending waiting dirs, Remove() removes on the caller's thread,
// so dirs left behind stay bounded when removal cannot keep up.
TEST(WorkDirReaperTest, RemovesInlineWhenTooManyWait) {
  absl::Notification first_taken, release;
  absl::Mutex mu;
  std::vector<std::pair<std::string, std::thread::id>> calls;
  WorkDirReaper::Options options;
  options.threads = 1;
  options.max_pending = 1;
  options.remove = [&](const std::string& dir) {
    if (dir == "a") {
      first_taken.Notify();
      release.WaitForNotification();
    }
    absl::MutexLock lock(&mu);
    calls.emplace_back(dir, std::this_thread::get_id());
    return absl::OkStatus();
  };
  WorkDirReaper reaper(options);
  reaper.Remove("a");
  first_taken.WaitForNotification();  // the one thread is busy with "a"
  reaper.Remove("b");                 // waits: the one pending place
  reaper.Remove("c");                 // no room: removed here, now
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].first, "c");
    EXPECT_EQ(calls[0].second, std::this_thread::get_id());
  }
  EXPECT_EQ(reaper.removed_inline(), 1u);
  release.Notify();
  reaper.Flush();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(calls.size(), 3u);
}

TEST(WorkDirReaperTest, CountsFailures) {
  WorkDirReaper::Options options;
  options.remove = [](const std::string& dir) {
    return absl::PermissionDeniedError(dir);
  };
  WorkDirReaper reaper(options);
  reaper.Remove("x");
  reaper.Remove("y");
  reaper.Flush();
  EXPECT_EQ(reaper.failures(), 2u);
}

}  // namespace
}  // namespace shardex
