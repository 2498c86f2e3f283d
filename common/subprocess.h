// Subprocess: one of our own processes (a coordinator or worker started by
// `shardex local` or by the multi-process tests) started from an argv
// vector, with explicit reaping and a kill/wait API.
//
// It is started by Spawn (common/spawn.h), the same core as user programs,
// but not isolated like them: it inherits this process's environment,
// working directory, stdin, process group (so a terminal's Ctrl-C reaches
// it too) and ignored signals; no rlimits. It gets an empty signal mask,
// its stdout/stderr optionally go to log files, and (by default) it gets
// SIGKILL if the starting thread dies, so a crashed parent leaves no
// orphans. The destructor kills (SIGKILL) and reaps a child that is still
// running.
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

  // Starts argv[0] (a path: PATH is not searched) with argv. INTERNAL if
  // it cannot be started ("cannot run PATH: <strerror>").
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
