// Test helpers for the text kernels (wordcount, grep): a few MB of real,
// messy text to run them on, files under TEST_TMPDIR, and running the
// coreutils / grep pipelines that serve as their oracles.
//
// Thread-safety: WriteTestFile and MixedLicenseText touch the file system
// and a counter without locks; call them from the test's main thread.
#ifndef SHARDEX_KERNELS_TEXT_TESTING_H_
#define SHARDEX_KERNELS_TEXT_TESTING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shardex {
namespace testing {

// Writes `contents` to a new file under TEST_TMPDIR whose name starts with
// `name`; returns its path.
std::string WriteTestFile(const std::string& name, const std::string& contents);

// The texts in /usr/share/common-licenses concatenated `copies` times, each
// copy roughened differently but deterministically: some lines end in CRLF,
// some spaces become tabs or runs of mixed whitespace ('\v', '\f'), blank
// lines repeat, and some words carry bytes >= 0x80. No NUL bytes. Empty if
// the licenses cannot be read (tests should ASSERT on its size).
std::string MixedLicenseText(int copies);

// `text` quoted for /bin/sh.
std::string ShellQuote(const std::string& text);

struct ShellResult {
  std::string output;  // standard output
  int exit_code = -1;
};

// Runs `command` with /bin/sh -c and captures its standard output.
absl::StatusOr<ShellResult> RunShell(const std::string& command);

}  // namespace testing
}  // namespace shardex

#endif  // SHARDEX_KERNELS_TEXT_TESTING_H_
