#include "cli/job_flags.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace shardex {
namespace {

// Parses `shardex submit <args>` and builds the job.
// `uploads`, when given, gets JobFlags::Uploads().
absl::StatusOr<v1::JobSpec> Parse(std::vector<std::string> args,
                                  std::vector<std::string>* uploads = nullptr) {
  CLI::App app;
  CLI::App* submit = app.add_subcommand("submit");
  submit->fallthrough();
  JobFlags flags;
  flags.Register(submit);
  std::vector<std::string> argv = {"shardex", "submit"};
  argv.insert(argv.end(), args.begin(), args.end());
  flags.SetCommand(SplitAtDoubleDash(argv));
  std::vector<const char*> cargv;
  for (const auto& a : argv) cargv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::ExtrasError&) {
    return flags.Build(app.remaining());
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (uploads != nullptr) *uploads = flags.Uploads();
  return flags.Build(submit->remaining());
}

std::string Cwd() {
  char buf[4096];
  return getcwd(buf, sizeof(buf));
}

TEST(JobFlagsTest, KernelWithItsFlags) {
  auto spec = Parse({"--shards", "7", "primes", "--to", "1e9"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->kernel(), "primes");
  EXPECT_EQ(spec->args().at("to"), "1e9");
  EXPECT_EQ(spec->args().count("from"), 0u);  // only what was given
  EXPECT_EQ(spec->shards(), 7u);
  EXPECT_FALSE(spec->has_command());
}

TEST(JobFlagsTest, CommandAfterDoubleDashKeepsArgumentsIntact) {
  auto spec = Parse({"--shards", "3", "--reduce", "sum", "--", "echo",
                     "a b", "{shard}", "--not-a-flag"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->has_command());
  const auto& argv = spec->command().argv();
  ASSERT_EQ(argv.size(), 4);
  EXPECT_EQ(argv[1], "a b");
  EXPECT_EQ(argv[3], "--not-a-flag");
  EXPECT_EQ(spec->command().reduce(), "sum");
  EXPECT_TRUE(spec->kernel().empty());
}

TEST(JobFlagsTest, SourcesAndLimits) {
  auto spec = Parse({"--range", "10:1e3", "--shard-timeout", "1500ms",
                     "--max-output", "2MiB", "--max-memory", "512m",
                     "--output", "out", "--", "sim", "{begin}", "{end}"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  const v1::CommandSpec& c = spec->command();
  EXPECT_TRUE(c.has_range());
  EXPECT_EQ(c.range_begin(), 10u);
  EXPECT_EQ(c.range_end(), 1000u);
  EXPECT_EQ(c.timeout_ms(), 1500u);
  EXPECT_EQ(c.max_output_bytes(), 2u << 20);
  EXPECT_EQ(c.max_memory_bytes(), 512u << 20);
  EXPECT_EQ(spec->output_dir(), Cwd() + "/out");  // made absolute
}

TEST(JobFlagsTest, InputsAreMadeAbsolute) {
  auto spec = Parse({"--inputs", "a.txt", "/data/b.txt", "--", "wc", "-l",
                     "{input}"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->command().inputs_size(), 2);
  EXPECT_EQ(spec->command().inputs(0), Cwd() + "/a.txt");
  EXPECT_EQ(spec->command().inputs(1), "/data/b.txt");
}

TEST(JobFlagsTest, ClearErrors) {
  auto unknown = Parse({"nosuchkernel"});
  EXPECT_NE(std::string(unknown.status().message()).find("unknown kernel 'nosuchkernel'"),
            std::string::npos)
      << unknown.status();
  auto nothing = Parse({"--shards", "2"});
  EXPECT_NE(std::string(nothing.status().message()).find("name a kernel"),
            std::string::npos);
  auto both = Parse({"--range", "0:5", "primes", "--to", "10"});
  EXPECT_EQ(std::string(both.status().message()),
            "--range applies to command jobs only (a program after --), not "
            "to kernel primes");
  auto argv = Parse({"primes", "--to", "10", "--", "echo"});
  EXPECT_EQ(std::string(argv.status().message()),
            "a command after -- does not go with kernel primes");
  auto range = Parse({"--range", "5", "--", "true"});
  EXPECT_NE(std::string(range.status().message()).find("is not A:B"),
            std::string::npos);
  auto glob = Parse({"--inputs", "/nonexistent/*.txt", "--", "true"});
  EXPECT_NE(std::string(glob.status().message()).find("matches no file"),
            std::string::npos);
}

TEST(JobFlagsTest, PositionalsAndSwitchesOfKernels) {
  auto spec = Parse({"grep", "--count", "GNU", "a.txt", "/b.txt"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->args().at("count"), "true");  // a switch takes no value
  EXPECT_EQ(spec->args().at("pattern"), "GNU");
  EXPECT_EQ(spec->args().at("files"), Cwd() + "/a.txt\n/b.txt");
  EXPECT_EQ(spec->args().count("fixed"), 0u);
}

TEST(JobFlagsTest, NoRetryExitCodesRepeatOrComma) {
  auto spec = Parse({"--no-retry-exit", "42", "--no-retry-exit", "3,4", "--",
                     "sh", "-c", "exit 42"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->command().no_retry_exit_codes_size(), 3);
  EXPECT_EQ(spec->command().no_retry_exit_codes(0), 42);
  EXPECT_EQ(spec->command().no_retry_exit_codes(2), 4);
  EXPECT_FALSE(Parse({"--no-retry-exit", "0", "--", "true"}).ok());
  EXPECT_FALSE(Parse({"--no-retry-exit", "42", "primes", "--to", "9"}).ok());
}

// The limits of a command job's processes mean nothing to a kernel job:
// given with a kernel (before or after it), each is refused by name rather
// than dropped.
TEST(JobFlagsTest, CommandLimitsAreRefusedOnKernelJobs) {
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"--max-memory", "1G"},
           {"--max-output", "1M"},
           {"--max-file-size", "1M"},
           {"--max-cpu", "5"},
           {"--max-open-files", "64"}}) {
    const std::string want =
        flag + " applies to command jobs only (a program after --), not to "
               "kernel primes";
    auto after = Parse({"primes", "--to", "100", flag, value});
    EXPECT_EQ(after.status().code(), absl::StatusCode::kInvalidArgument)
        << flag << ": " << after.status();
    EXPECT_EQ(std::string(after.status().message()), want);
    auto before = Parse({flag, value, "primes", "--to", "100"});
    EXPECT_EQ(std::string(before.status().message()), want) << before.status();
    // Zero is a value too: given is given.
    EXPECT_FALSE(Parse({"primes", "--to", "100", flag, "0"}).ok()) << flag;
    // And on a command job each one is taken.
    EXPECT_TRUE(Parse({flag, value, "--", "true"}).ok()) << flag;
  }
}

TEST(JobFlagsTest, UploadIsRepeatableAbsoluteAndForCommandsOnly) {
  std::vector<std::string> uploads;
  auto spec = Parse({"--upload", "simulate", "--upload", "/data/model", "--",
                     "./simulate"},
                    &uploads);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(uploads,
            (std::vector<std::string>{Cwd() + "/simulate", "/data/model"}));
  auto kernel = Parse({"--upload", "x", "primes", "--to", "10"});
  EXPECT_EQ(std::string(kernel.status().message()),
            "--upload applies to command jobs only (a program after --), not "
            "to kernel primes");
}

TEST(JobFlagsTest, SharedFsFromFlagOrEnvironment) {
  unsetenv("SHARDEX_SHARED_FS");
  EXPECT_FALSE(Parse({"--", "true"})->shared_fs());
  EXPECT_TRUE(Parse({"--shared-fs", "--", "true"})->shared_fs());
  EXPECT_TRUE(Parse({"--shared-fs", "primes", "--to", "9"})->shared_fs());
  setenv("SHARDEX_SHARED_FS", "1", 1);
  EXPECT_TRUE(Parse({"--", "true"})->shared_fs());
  setenv("SHARDEX_SHARED_FS", "0", 1);
  EXPECT_FALSE(Parse({"--", "true"})->shared_fs());
  unsetenv("SHARDEX_SHARED_FS");
}

TEST(JobFlagsTest, ParseBytes) {
  EXPECT_EQ(*ParseBytes("--x", "1000"), 1000u);
  EXPECT_EQ(*ParseBytes("--x", "4MiB"), 4u << 20);
  EXPECT_EQ(*ParseBytes("--x", "512k"), 512u << 10);
  EXPECT_EQ(*ParseBytes("--x", "1G"), 1u << 30);
  EXPECT_FALSE(ParseBytes("--x", "lots").ok());
  EXPECT_FALSE(ParseBytes("--x", "-5").ok());
  EXPECT_FALSE(ParseBytes("--x", "99999999999999999999G").ok());
}

}  // namespace
}  // namespace shardex
