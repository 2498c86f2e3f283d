// UniqueFd: owns one file descriptor and closes it when destroyed, reset or
// overwritten; move-only. The process code (spawn, supervisor, stdin
// feeder) passes pipe ends around in these so that no error path leaks one.
//
// Thread-safety: like an int; one owner at a time.
#ifndef SHARDEX_COMMON_UNIQUE_FD_H_
#define SHARDEX_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace shardex {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_UNIQUE_FD_H_
