#include "coordinator/job_planner.h"

#include <string>

#include "gtest/gtest.h"

namespace shardex {
namespace {

bool Names(const absl::Status& st, absl::StatusCode code,
           const std::string& field, const std::string& what) {
  return st.code() == code && st.message().find(field) != std::string::npos &&
         st.message().find(what) != std::string::npos;
}

v1::JobSpec Kernel(const std::string& name) {
  v1::JobSpec spec;
  spec.set_kernel(name);
  return spec;
}

TEST(JobPlannerTest, ValidateChecksSizeAndText) {
  SchedulerOptions options;
  options.max_spec_bytes = 1000;
  JobPlanner planner(options);
  v1::JobSpec spec = Kernel("primes");
  absl::StatusOr<uint64_t> bytes = planner.Validate(spec);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, spec.ByteSizeLong());
  (*spec.mutable_args())["pad"] = std::string(2000, 'p');
  EXPECT_TRUE(Names(planner.Validate(spec).status(),
                    absl::StatusCode::kResourceExhausted, "job spec",
                    "--max-spec-bytes"));
  EXPECT_TRUE(
      Names(planner.Validate(Kernel(std::string("pr\0mes", 6))).status(),
            absl::StatusCode::kInvalidArgument, "kernel:", "NUL"));
  EXPECT_TRUE(Names(planner.Validate(Kernel("")).status(),
                    absl::StatusCode::kInvalidArgument, "kernel:", "empty"));
  EXPECT_TRUE(Names(planner.Validate(Kernel(std::string(65, 'k'))).status(),
                    absl::StatusCode::kInvalidArgument, "kernel:", "65-byte"));
  spec = Kernel("primes");
  spec.set_output_dir(std::string("/o\0", 3));
  EXPECT_TRUE(Names(planner.Validate(spec).status(),
                    absl::StatusCode::kInvalidArgument, "output_dir", "NUL"));
}

TEST(JobPlannerTest, PlanResolvesKernelArgumentsAndSeeds) {
  SchedulerOptions options;
  JobPlanner planner(options);
  v1::JobSpec unknown = Kernel("no_such_kernel");
  absl::Status st = planner.Plan(unknown, false).status();
  EXPECT_TRUE(
      Names(st, absl::StatusCode::kNotFound, "no_such_kernel", "known: "))
      << st;
  v1::JobSpec pi = Kernel("pi");
  (*pi.mutable_args())["samples"] = "1000";
  v1::JobSpec pi2 = pi;
  ASSERT_TRUE(planner.Plan(pi, false).ok());
  ASSERT_TRUE(planner.Plan(pi2, false).ok());
  ASSERT_EQ(pi.args().count("seed"), 1u);
  EXPECT_NE(pi.args().at("seed"), pi2.args().at("seed"));
  (*pi.mutable_args())["seed"] = "42";  // a given seed is kept
  ASSERT_TRUE(planner.Plan(pi, false).ok());
  EXPECT_EQ(pi.args().at("seed"), "42");
  v1::JobSpec bad = Kernel("primes");
  (*bad.mutable_args())["to"] = "1e30";
  EXPECT_TRUE(Names(planner.Plan(bad, false).status(),
                    absl::StatusCode::kInvalidArgument, "--to", "exceeds"));
}

TEST(JobPlannerTest, PlanChecksCommandsUnderThePolicy) {
  SchedulerOptions options;
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("echo");
  {
    JobPlanner planner(options);
    v1::JobSpec copy = spec;
    EXPECT_EQ(planner.Plan(copy, false).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  options.allow_commands = true;
  options.max_result_bytes = 1 << 20;
  JobPlanner planner(options);
  v1::JobSpec both = spec;
  both.set_kernel("primes");
  EXPECT_TRUE(Names(planner.Plan(both, false).status(),
                    absl::StatusCode::kInvalidArgument, "kernel", "not both"));
  ASSERT_TRUE(planner.Plan(spec, false).ok());
  // Defaults filled in, the output cap under the result limit.
  EXPECT_EQ(spec.command().max_output_bytes(), 1u << 20);
}

TEST(JobPlannerTest, ShardCountDefaultsFromTheClusterAndIsChecked) {
  SchedulerOptions options;
  options.max_shards_per_job = 100;
  JobPlanner planner(options);
  const Domain range{Domain::Kind::kRange, 0, 1'000'000};
  v1::JobSpec spec = Kernel("primes");
  EXPECT_EQ(*planner.ShardCount(spec, range, 5), 20u);      // 5 slots x 4
  EXPECT_EQ(*planner.ShardCount(spec, range, 1000), 100u);  // capped default
  spec.set_shards(101);  // an ask over the limit
  EXPECT_TRUE(Names(planner.ShardCount(spec, range, 5).status(),
                    absl::StatusCode::kResourceExhausted, "shards",
                    "--max-shards"));
  spec.set_shards(11);
  EXPECT_EQ(planner.ShardCount(spec, Domain{Domain::Kind::kRange, 0, 10}, 5)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(planner.CheckShardCount(range, 100).ok());
  EXPECT_FALSE(planner.CheckShardCount(range, 0).ok());
}

TEST(JobPlannerTest, HeldBytesEstimateSaturates) {
  EXPECT_EQ(JobPlanner::HeldBytesEstimate(10, 7),
            10 * JobPlanner::kShardStateBytes + 7);
  EXPECT_EQ(JobPlanner::HeldBytesEstimate(UINT64_MAX / 2, 0), UINT64_MAX);
}

TEST(JobPlannerTest, SummaryIsOneShortLine) {
  v1::JobSpec spec = Kernel("primes");
  (*spec.mutable_args())["to"] = "100";
  (*spec.mutable_args())["from"] = "0";
  EXPECT_EQ(JobPlanner::Summary(spec), "primes --from 0 --to 100");
  v1::JobSpec command;
  command.mutable_command()->add_argv("./simulate");
  command.mutable_command()->add_argv("--seed");
  command.mutable_command()->add_argv("{shard}");
  EXPECT_EQ(JobPlanner::Summary(command), "command: ./simulate --seed {shard}");
  (*spec.mutable_args())["pattern"] = "a\nb" + std::string(300'000, 'x');
  const std::string line = JobPlanner::Summary(spec);
  EXPECT_LE(line.size(), JobPlanner::kMaxSummaryBytes + 3);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.substr(line.size() - 3), "...");
  // Never cut inside a UTF-8 character.
  v1::JobSpec utf8 = Kernel("grep");
  std::string text;
  while (text.size() < 300) text += "\xC3\xA9";  // é
  (*utf8.mutable_args())["p"] = text;
  const std::string clipped = JobPlanner::Summary(utf8);
  const std::string body = clipped.substr(0, clipped.size() - 3);
  EXPECT_NE(static_cast<unsigned char>(body.back()), 0xC3);
}

}  // namespace
}  // namespace shardex
