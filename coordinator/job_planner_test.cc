#include "coordinator/job_planner.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "common/blob_id.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "coordinator/store_testing.h"
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
  absl::Status st = planner.Plan(unknown, false, 1).status();
  EXPECT_TRUE(
      Names(st, absl::StatusCode::kNotFound, "no_such_kernel", "known: "))
      << st;
  v1::JobSpec pi = Kernel("pi");
  (*pi.mutable_args())["samples"] = "1000";
  v1::JobSpec pi2 = pi;
  ASSERT_TRUE(planner.Plan(pi, false, 1).ok());
  ASSERT_TRUE(planner.Plan(pi2, false, 1).ok());
  ASSERT_EQ(pi.args().count("seed"), 1u);
  EXPECT_NE(pi.args().at("seed"), pi2.args().at("seed"));
  (*pi.mutable_args())["seed"] = "42";  // a given seed is kept
  ASSERT_TRUE(planner.Plan(pi, false, 1).ok());
  EXPECT_EQ(pi.args().at("seed"), "42");
  v1::JobSpec bad = Kernel("primes");
  (*bad.mutable_args())["to"] = "1e30";
  EXPECT_TRUE(Names(planner.Plan(bad, false, 1).status(),
                    absl::StatusCode::kInvalidArgument, "--to", "exceeds"));
}

TEST(JobPlannerTest, PlanChecksCommandsUnderThePolicy) {
  SchedulerOptions options;
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("echo");
  {
    JobPlanner planner(options);
    v1::JobSpec copy = spec;
    EXPECT_EQ(planner.Plan(copy, false, 1).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  options.allow_commands = true;
  options.max_result_bytes = 1 << 20;
  JobPlanner planner(options);
  v1::JobSpec both = spec;
  both.set_kernel("primes");
  EXPECT_TRUE(Names(planner.Plan(both, false, 1).status(),
                    absl::StatusCode::kInvalidArgument, "kernel", "not both"));
  ASSERT_TRUE(planner.Plan(spec, false, 1).ok());
  // Defaults filled in, the output cap under the result limit.
  EXPECT_EQ(spec.command().max_output_bytes(), 1u << 20);
}

TEST(JobPlannerTest, ShardCountDefaultsFromTheClusterAndIsChecked) {
  SchedulerOptions options;
  options.max_shards_per_job = 100;
  JobPlanner planner(options);
  const Domain range{Domain::Kind::kRange, 0, 1'000'000};
  v1::JobSpec spec = Kernel("primes");
  // A range job without --shards is adaptive: no count up front.
  EXPECT_TRUE(JobPlanner::IsAdaptive(spec, range));
  EXPECT_EQ(*planner.ShardCount(spec, range, 5), 0u);
  // A command naming {shards} needs a count: 4 x the slots, capped.
  spec.clear_kernel();
  spec.mutable_command()->add_argv("./count");
  spec.mutable_command()->add_argv("--of={shards}");
  EXPECT_FALSE(JobPlanner::IsAdaptive(spec, range));
  EXPECT_EQ(*planner.ShardCount(spec, range, 5), 20u);      // 5 slots x 4
  EXPECT_EQ(*planner.ShardCount(spec, range, 1000), 100u);  // capped default
  spec.mutable_command()->set_argv(1, "{begin}");
  EXPECT_TRUE(JobPlanner::IsAdaptive(spec, range));
  // Tasks and empty ranges are never adaptive.
  EXPECT_FALSE(
      JobPlanner::IsAdaptive(spec, Domain{Domain::Kind::kTasks, 0, 0}));
  EXPECT_FALSE(
      JobPlanner::IsAdaptive(spec, Domain{Domain::Kind::kRange, 5, 5}));
  spec = Kernel("primes");
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

// Planning with a store (staged_paths.h has the path rules).
class JobPlannerStagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = ts_.Open();
    ASSERT_TRUE(st.ok()) << st;
  }
  bool Exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }

  TestStore ts_{"job_planner_test"};
  SchedulerOptions options_;
};

TEST_F(JobPlannerStagingTest, PlansFromTheStoreAndKeepsTheClientsPaths) {
  JobPlanner planner(options_, ts_.env());
  const std::string sha = ts_.Put("one two\nthree\n");
  v1::JobSpec spec = Kernel("wordcount");
  (*spec.mutable_args())["files"] = "/client/words.txt";
  v1::StagedFile* f = spec.add_staged();
  f->set_path("/client/words.txt");
  f->set_sha256(sha);
  spec.set_output_dir(ts_.root() + "/user-dir");
  absl::StatusOr<PlannedJob> planned = planner.Plan(spec, false, 3);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(spec.args().at("files"), "/client/words.txt");
  EXPECT_EQ(spec.output_dir(), ts_.root() + "/user-dir");
  EXPECT_EQ(planned->output_dir, ts_.root() + "/outputs/3");
  EXPECT_FALSE(planned->shared_fs);
  EXPECT_TRUE(Exists(ts_.root() + "/outputs/3"));
  EXPECT_FALSE(Exists(ts_.root() + "/user-dir"));  // never touched
  // Pinned: kept by Collect however old.
  ts_.clock().Advance(BlobStore::kCollectGrace);
  ts_.store()->Collect();
  EXPECT_TRUE(ts_.store()->IsStored(sha));
  // Forgotten: unpinned, outputs deleted, collected.
  planner.Forget(3);
  EXPECT_FALSE(Exists(ts_.root() + "/outputs/3"));
  EXPECT_FALSE(ts_.store()->IsStored(sha));
}

TEST_F(JobPlannerStagingTest, UnstagedPathIsRefusedAndNothingIsLeft) {
  JobPlanner planner(options_, ts_.env());
  const std::string sha = ts_.Put("x");
  v1::JobSpec spec = Kernel("wordcount");
  (*spec.mutable_args())["files"] = "/client/not-sent.txt";
  v1::StagedFile* f = spec.add_staged();
  f->set_path("/client/other.txt");
  f->set_sha256(sha);
  spec.set_output_dir("/client/out");
  absl::Status st = planner.Plan(spec, false, 4).status();
  EXPECT_TRUE(Names(st, absl::StatusCode::kInvalidArgument,
                    "'/client/not-sent.txt'", "was not uploaded with the job"))
      << st;
  EXPECT_FALSE(Exists(ts_.root() + "/outputs/4"));
  ts_.clock().Advance(BlobStore::kCollectGrace);
  ts_.store()->Collect();
  EXPECT_FALSE(ts_.store()->IsStored(sha));  // the failed job pinned nothing
}

TEST_F(JobPlannerStagingTest, CommandLinesAreStatedFromTheStore) {
  options_.allow_commands = true;
  JobPlanner planner(options_, ts_.env());
  const std::string sha = ts_.Put("a\nb\nc\n");
  v1::JobSpec spec;
  spec.mutable_command()->add_argv("cat");
  spec.mutable_command()->set_lines("/client/lines.txt");
  v1::StagedFile* f = spec.add_staged();
  f->set_path("/client/lines.txt");
  f->set_sha256(sha);
  absl::StatusOr<PlannedJob> planned = planner.Plan(spec, false, 5);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->kernel->domain().hi, 6u);  // the blob's bytes
  EXPECT_EQ(spec.command().lines(), "/client/lines.txt");
}

}  // namespace
}  // namespace shardex
