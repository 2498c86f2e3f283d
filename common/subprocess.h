// Subprocess: a child process started from an argv vector, with explicit
// reaping. Used by `shardex local` to start workers and by multi-process
// tests to start coordinators and workers.
//
// The child gets an empty signal mask, and (by default) SIGKILL if this
// process dies, so a crashed parent leaves no orphans. The destructor kills
// (SIGKILL) and reaps a child that is still running.
//
// Thread-safety: a Subprocess is used from one thread at a time.
#ifndef SHARDEX_COMMON_SUBPROCESS_H_
#define SHARDEX_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shardex {

class Subprocess {
 public:
  struct Options {
    bool die_with_parent = true;
    // When set, the child's stdout / stderr go to these files (appended);
    // the same path for both interleaves them.
    std::string stdout_file;
    std::string stderr_file;
  };

  // Starts argv[0] (a path) with argv. INTERNAL if it cannot be started.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const Options& options);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();  // reaps the child if it has exited

  void Signal(int signo);  // no-op once reaped

  // Waits up to `timeout` for the child to exit; returns its wait status
  // (see WIFEXITED etc.), or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // SIGTERM, then SIGKILL after `grace`; always reaps. Returns the status.
  int Stop(absl::Duration grace);

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  bool TryReap();

  pid_t pid_;
  std::optional<int> wait_status_;
};

}  // namespace shardex

#endif  // SHARDEX_COMMON_SUBPROCESS_H_
