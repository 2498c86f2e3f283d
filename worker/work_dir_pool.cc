#include "worker/work_dir_pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "common/file_util.h"
#include "common/unique_fd.h"

namespace shardex {

namespace {

enum class DirState {
  kReusable,  // a dir of ours, 0700, holding nothing
  kGone,      // nothing at the path
  kOther,     // anything else: to be removed
};

bool IsDotOrDotDot(const char* name) {
  return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

// Reads the open dir's entries until it sees a real one or the end: for an
// empty dir, one getdents64 returning "." and "..", one returning 0.
bool HoldsNothing(int fd) {
  alignas(struct dirent64) char buffer[1024];
  while (true) {
    const ssize_t n = getdents64(fd, buffer, sizeof(buffer));
    if (n == 0) return true;
    if (n < 0) return false;
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry =
          reinterpret_cast<const struct dirent64*>(buffer + offset);
      if (!IsDotOrDotDot(entry->d_name)) return false;
      offset += entry->d_reclen;
    }
  }
}

// Never follows a symlink left at the path.
DirState Inspect(const std::string& dir) {
  UniqueFd fd(
      open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno == ENOENT ? DirState::kGone : DirState::kOther;
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      (st.st_mode & 07777) != 0700 || st.st_uid != geteuid()) {
    return DirState::kOther;
  }
  return HoldsNothing(fd.get()) ? DirState::kReusable : DirState::kOther;
}

}  // namespace

WorkDirPool::WorkDirPool(std::string scratch_root, Options options)
    : scratch_root_(std::move(scratch_root)),
      max_idle_(options.max_idle),
      reaper_(std::move(options.reaper)) {}

WorkDirPool::~WorkDirPool() {
  std::vector<std::string> idle;
  {
    absl::MutexLock lock(&mu_);
    idle.swap(idle_);
  }
  // reaper_'s destructor, which runs next, waits for these.
  for (std::string& dir : idle) reaper_.Remove(std::move(dir));
}

absl::StatusOr<std::string> WorkDirPool::Acquire() {
  // Checked again: something may have written into (or removed) the dir
  // while it was idle.
  while (std::optional<std::string> dir = TakeIdle()) {
    switch (Inspect(*dir)) {
      case DirState::kReusable:
        return *std::move(dir);
      case DirState::kGone:
        break;
      case DirState::kOther:
        reaper_.Remove(*std::move(dir));
        break;
    }
  }
  return MakeWorkDir(scratch_root_);
}

void WorkDirPool::Release(std::string dir) {
  switch (Inspect(dir)) {
    case DirState::kReusable:
      if (Keep(&dir)) return;
      break;
    case DirState::kGone:
      return;
    case DirState::kOther:
      break;
  }
  reaper_.Remove(std::move(dir));
}

std::optional<std::string> WorkDirPool::TakeIdle() {
  absl::MutexLock lock(&mu_);
  if (idle_.empty()) return std::nullopt;
  std::string dir = std::move(idle_.back());
  idle_.pop_back();
  return dir;
}

bool WorkDirPool::Keep(std::string* dir) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() >= max_idle_) return false;
  idle_.push_back(std::move(*dir));
  return true;
}

}  // namespace shardex
