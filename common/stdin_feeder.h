// StdinFeeder: the source of a child's stdin -- bytes in memory, or a slice
// of a file read a chunk at a time (so the file may be far larger than
// memory) -- pumped into a non-blocking pipe as the child reads it.
// ChildSupervisor calls Pump() whenever the pipe is writable.
//
// Thread-safety: owned and used by one thread.
#ifndef SHARDEX_COMMON_STDIN_FEEDER_H_
#define SHARDEX_COMMON_STDIN_FEEDER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace shardex {

class StdinFeeder {
 public:
  enum class State { kMore, kDone, kFailed };

  StdinFeeder() = default;  // feeds nothing
  StdinFeeder(const StdinFeeder&) = delete;
  StdinFeeder& operator=(const StdinFeeder&) = delete;

  // Feeds `data`, which must outlive the feeder.
  void FeedMemory(absl::string_view data) { pending_ = data; }
  // Feeds `length` bytes (unset: to the end) of `path` from `offset`. Called
  // before the child starts, so that a missing file, or a slice past its
  // end, is a start error.
  absl::Status FeedFileSlice(const std::string& path, uint64_t offset,
                             std::optional<uint64_t> length);

  // Writes what the non-blocking `pipe_fd` will take. kDone: everything was
  // written, or the child closed its stdin (it may stop reading early).
  // kFailed: the file could not be read (see error()).
  State Pump(int pipe_fd);
  const absl::Status& error() const { return error_; }

 private:
  bool Refill();  // the next chunk of the file into pending_

  absl::string_view pending_;
  UniqueFd file_;
  std::string path_;
  uint64_t next_offset_ = 0;
  uint64_t remaining_ = 0;
  std::string buffer_;
  absl::Status error_;
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_STDIN_FEEDER_H_
