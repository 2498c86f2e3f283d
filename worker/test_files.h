// Small file helpers for worker tests: shards in these tests coordinate
// with the test through files (gates to open, pids to read), not sleeps.
//
// Thread-safety: the functions are safe from any thread.
#ifndef SHARDEX_WORKER_TEST_FILES_H_
#define SHARDEX_WORKER_TEST_FILES_H_

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_util.h"

namespace shardex {

// A path in the test's private temporary directory ($TEST_TMPDIR under
// bazel, else $TMPDIR or /tmp).
inline std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? std::string(dir) : TempDir(), "/", name);
}

// Waits (up to 30 s) until `path` holds a line; returns it ("" on timeout).
inline std::string WaitForLine(const std::string& path) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  std::string line;
  while (absl::Now() < give_up) {
    std::ifstream in(path);
    if (std::getline(in, line) && !line.empty()) return line;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return "";
}

}  // namespace shardex

#endif  // SHARDEX_WORKER_TEST_FILES_H_
