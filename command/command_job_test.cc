#include "command/command_job.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

v1::CommandSpec Echo() {
  v1::CommandSpec spec;
  spec.add_argv("echo");
  spec.add_argv("{shard}");
  return spec;
}

// The status CreateCommandJob gives `spec` under the default policy.
absl::Status Check(const v1::CommandSpec& spec,
                   const CommandPolicy& policy = CommandPolicy{}) {
  return CreateCommandJob(spec, policy).status();
}

// Expects `code`, and a message naming `field` (and saying `what`).
void ExpectRejected(const v1::CommandSpec& spec, absl::StatusCode code,
                    const std::string& field, const std::string& what,
                    const CommandPolicy& policy = CommandPolicy{}) {
  absl::Status st = Check(spec, policy);
  EXPECT_EQ(st.code(), code) << field << ": " << st;
  EXPECT_EQ(st.message().rfind(field, 0), 0u)
      << "message should start with " << field << ": " << st.message();
  EXPECT_NE(st.message().find(what), std::string::npos)
      << "message should say " << what << ": " << st.message();
}

TEST(CommandJobTest, AcceptsAPlainCommandAndFillsDefaults) {
  v1::CommandSpec resolved;
  auto job = CreateCommandJob(Echo(), CommandPolicy{}, &resolved);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(resolved.max_output_bytes(), 4u << 20);
}

TEST(CommandJobTest, EmptyArgvOrProgramIsInvalid) {
  ExpectRejected(v1::CommandSpec(), absl::StatusCode::kInvalidArgument,
                 "command.argv", "argv is empty");
  v1::CommandSpec spec;
  spec.add_argv("");
  spec.add_argv("x");
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.argv[0]",
                 "program name is empty");
  // Empty arguments after the program are fine.
  spec.set_argv(0, "echo");
  spec.add_argv("");
  EXPECT_TRUE(Check(spec).ok());
}

TEST(CommandJobTest, NulBytesAreRejectedNamingTheField) {
  v1::CommandSpec spec = Echo();
  spec.add_argv(std::string("a\0b", 3));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.argv[2]",
                 "contains a NUL byte");

  spec = Echo();
  spec.add_inputs("/data/a");
  spec.add_inputs(std::string("/data/\0b", 8));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.inputs[1]",
                 "contains a NUL byte");

  spec = Echo();
  spec.set_lines(std::string("/big\0.txt", 9));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.lines",
                 "contains a NUL byte");

  spec = Echo();
  spec.set_reduce_command(std::string("sort\0", 5));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                 "command.reduce_command", "contains a NUL byte");
}

TEST(CommandJobTest, ArgvAndReduceCommandOverTheLimitAreResourceExhausted) {
  CommandPolicy policy;
  policy.max_argv_bytes = 100;
  v1::CommandSpec spec = Echo();        // "echo\0{shard}\0": 13 bytes
  spec.add_argv(std::string(87, 'x'));  // 88 more: 101
  ExpectRejected(spec, absl::StatusCode::kResourceExhausted, "command.argv",
                 "--max-argv-bytes", policy);
  spec.mutable_argv()->RemoveLast();
  spec.add_argv(std::string(86, 'x'));  // exactly 100
  EXPECT_TRUE(Check(spec, policy).ok());

  spec = Echo();
  spec.set_reduce_command(std::string(100, 'r'));
  ExpectRejected(spec, absl::StatusCode::kResourceExhausted,
                 "command.reduce_command", "--max-argv-bytes", policy);
  // The default limit is 128 KiB.
  spec = Echo();
  spec.add_argv(std::string(128 << 10, 'x'));
  ExpectRejected(spec, absl::StatusCode::kResourceExhausted, "command.argv",
                 "131072");
}

TEST(CommandJobTest, PathsLongerThanPathMaxAreInvalid) {
  v1::CommandSpec spec = Echo();
  spec.add_inputs(std::string(5000, 'p'));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.inputs[0]",
                 "longer than a path may be");
  spec = Echo();
  spec.add_inputs("");
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.inputs[0]",
                 "empty path");
  spec = Echo();
  spec.set_lines(std::string(5000, 'p'));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.lines",
                 "longer than a path may be");
}

TEST(CommandJobTest, SourcesAndRangesAreChecked) {
  v1::CommandSpec spec = Echo();
  spec.set_has_range(true);
  spec.set_range_begin(5);
  spec.set_range_end(3);
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                 "command.range_begin", "must not exceed the end");
  spec.set_range_end(5);
  EXPECT_TRUE(Check(spec).ok());  // an empty range is a job of one shard
  spec.add_inputs("/a");
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                 "command:", "at most one");
}

TEST(CommandJobTest, ReduceModesAreChecked) {
  v1::CommandSpec spec = Echo();
  spec.set_reduce("median");
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.reduce",
                 "not one of concat, sum, sort");
  spec.set_reduce(std::string("sum\0", 4));
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.reduce",
                 "sum\\x00");  // escaped in the message
  spec.set_reduce("sum");
  spec.set_reduce_command("sort");
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                 "command.reduce_command", "not both");
  for (const char* ok : {"", "concat", "sum", "sort"}) {
    spec.set_reduce(ok);
    spec.clear_reduce_command();
    EXPECT_TRUE(Check(spec).ok()) << ok;
  }
}

TEST(CommandJobTest, LimitsOutOfRangeAreRejected) {
  v1::CommandSpec spec = Echo();
  spec.set_max_output_bytes((64 << 20) + 1);
  ExpectRejected(spec, absl::StatusCode::kResourceExhausted,
                 "command.max_output_bytes", "exceeds the limit");
  spec.set_max_output_bytes(64 << 20);
  EXPECT_TRUE(Check(spec).ok());

  spec = Echo();
  spec.set_timeout_ms(UINT64_MAX);
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument, "command.timeout_ms",
                 "more than a year");
  spec.set_timeout_ms(30'000);
  EXPECT_TRUE(Check(spec).ok());

  spec = Echo();
  for (uint64_t bad :
       {uint64_t{1}, uint64_t{2}, (uint64_t{1} << 20) + 1, UINT64_MAX}) {
    spec.set_max_open_files(bad);
    ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                   "command.max_open_files", absl::StrCat("got ", bad));
  }
  spec.set_max_open_files(256);
  EXPECT_TRUE(Check(spec).ok());
}

TEST(CommandJobTest, NoRetryExitCodesMustBeExitCodes) {
  for (int32_t bad : {0, -1, 256, INT32_MIN}) {
    v1::CommandSpec spec = Echo();
    spec.add_no_retry_exit_codes(42);
    spec.add_no_retry_exit_codes(bad);
    ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                   "command.no_retry_exit_codes[1]", absl::StrCat("got ", bad));
  }
  v1::CommandSpec spec = Echo();
  for (int i = 0; i < 256; ++i) spec.add_no_retry_exit_codes(1 + i % 255);
  ExpectRejected(spec, absl::StatusCode::kInvalidArgument,
                 "command.no_retry_exit_codes", "256 codes");
  spec.mutable_no_retry_exit_codes()->RemoveLast();
  EXPECT_TRUE(Check(spec).ok());
}

}  // namespace
}  // namespace shardex
