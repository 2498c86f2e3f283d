#include "common/process_outcome.h"

#include <signal.h>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using Kind = ProcessOutcome::Kind;

TEST(ProcessOutcomeTest, DescribeNamesLimitsFromTheSignal) {
  ProcessOutcome o;
  o.kind = Kind::kSignaled;
  o.signal = SIGXFSZ;
  EXPECT_EQ(o.Describe(), "file size limit exceeded (SIGXFSZ)");
  o.limits.file_size_bytes = 1048576;
  EXPECT_EQ(o.Describe(),
            "file size limit of 1048576 bytes exceeded (SIGXFSZ)");
  o.signal = SIGABRT;
  o.limits.address_space_bytes = 1000;
  EXPECT_EQ(o.Describe(),
            "killed by signal 6 (SIGABRT) (address-space limit 1000 bytes was "
            "set)");
  o.kind = Kind::kExited;
  o.exit_code = 128 + SIGXFSZ;
  EXPECT_EQ(o.Describe(),
            "exit code 153 (a shell's 128+SIGXFSZ: file size limit of 1048576 "
            "bytes exceeded) (address-space limit 1000 bytes was set)");
}

// The runner's limits in its own terms: which flag set them is the
// caller's to say (worker/command_runner_test.cc).
TEST(ProcessOutcomeTest, DescribeNamesNoFlags) {
  ProcessOutcome o;
  o.kind = Kind::kTimedOut;
  o.timeout = absl::Milliseconds(1500);
  EXPECT_EQ(o.Describe(), "timed out after 1.5s");
  o.kind = Kind::kOutputTooLarge;
  o.overflowed = "stdout";
  o.max_output_bytes = 1000;
  EXPECT_EQ(o.Describe(), "stdout exceeded the output cap of 1000 bytes");
  o.kind = Kind::kSignaled;
  o.signal = SIGXCPU;
  o.limits.cpu_seconds = 2;
  EXPECT_EQ(o.Describe(), "CPU time limit of 2 s exceeded (SIGXCPU)");
  o.kind = Kind::kCancelled;
  EXPECT_EQ(o.Describe(), "cancelled");
}

}  // namespace
}  // namespace shardex
