#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"

namespace shardex {
namespace {

TEST(KernelRegistryTest, ListsTheBuiltinKernelsSortedByName) {
  std::vector<std::string> names;
  for (const KernelInfo* k : AllKernels()) names.push_back(k->name);
  EXPECT_EQ(names, (std::vector<std::string>{"grep", "hashsearch",
                                             "mandelbrot", "pi", "primes",
                                             "sleep", "wordcount"}));
}

TEST(KernelRegistryTest, FindsKernelsByExactName) {
  const KernelInfo* primes = FindKernel("primes");
  ASSERT_NE(primes, nullptr);
  EXPECT_EQ(primes->name, "primes");
  EXPECT_EQ(FindKernel("prime"), nullptr);
  EXPECT_EQ(FindKernel("PRIMES"), nullptr);
  EXPECT_EQ(FindKernel(""), nullptr);
}

TEST(KernelRegistryTest, EveryKernelIsDocumented) {
  for (const KernelInfo* k : AllKernels()) {
    EXPECT_FALSE(k->summary.empty()) << k->name;
    EXPECT_FALSE(k->params.empty()) << k->name;
    for (const KernelParam& p : k->params) {
      EXPECT_FALSE(p.name.empty()) << k->name;
      EXPECT_NE(p.name.front(), '-') << k->name << ": name without dashes";
      EXPECT_FALSE(p.help.empty()) << k->name << " --" << p.name;
      EXPECT_FALSE(p.required && !p.default_value.empty())
          << k->name << " --" << p.name << " is required yet has a default";
    }
  }
}

TEST(KernelRegistryTest, UnknownKernelIsNotFoundAndListsTheKnownOnes) {
  absl::StatusOr<std::unique_ptr<KernelJob>> job = CreateKernelJob("x", {});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(job.status().message(),
            "unknown kernel 'x' (known: grep, hashsearch, mandelbrot, pi, "
            "primes, sleep, wordcount)");
}

TEST(KernelRegistryTest, EveryKernelHasBothSides) {
  for (const KernelInfo* k : AllKernels()) {
    EXPECT_TRUE(k->create) << k->name;
    EXPECT_TRUE(k->create_runner) << k->name << " cannot run on a worker";
  }
}

TEST(KernelRegistryTest, CreatesBothSidesOfAJobThatRuns) {
  absl::StatusOr<std::unique_ptr<KernelJob>> job =
      CreateKernelJob("primes", {{"to", "100"}});
  ASSERT_TRUE(job.ok()) << job.status();
  const Domain d = (*job)->domain();
  EXPECT_EQ(d.kind, Domain::Kind::kRange);
  EXPECT_EQ(d.lo, 0u);
  EXPECT_EQ(d.hi, 100u);
  absl::StatusOr<std::unique_ptr<ShardRunner>> runner =
      CreateShardRunner("primes", {{"to", "100"}});
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_EQ(RunWholeShard(**runner, {0, 50}).value(), "15");
  absl::StatusOr<std::unique_ptr<testing::LocalKernel>> local =
      testing::LocalKernel::Create("primes", {{"to", "100"}});
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(testing::RunJob(**local, 4).value().value, "25");
}

// The coordinator asks only splittable kernels to split (KernelJob), the
// worker splits only splittable runners (ShardRunner): the two must agree.
TEST(KernelRegistryTest, BothSidesAgreeWhetherAShardCanSplit) {
  const std::vector<std::pair<std::string, KernelArgs>> cases = {
      {"primes", {{"to", "100"}}}, {"sleep", {{"ms", "0"}}}};
  for (const auto& [name, args] : cases) {
    absl::StatusOr<std::unique_ptr<KernelJob>> job =
        CreateKernelJob(name, args);
    ASSERT_TRUE(job.ok()) << job.status();
    absl::StatusOr<std::unique_ptr<ShardRunner>> runner =
        CreateShardRunner(name, args);
    ASSERT_TRUE(runner.ok()) << runner.status();
    EXPECT_EQ((*job)->splittable(), (*runner)->splittable()) << name;
    EXPECT_EQ((*job)->splittable(), name == "primes") << name;
  }
}

TEST(KernelRegistryTest, WorkerSideChecksArgumentsAndNamesLikeTheCoordinator) {
  absl::StatusOr<std::unique_ptr<ShardRunner>> unknown =
      CreateShardRunner("x", {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            CreateKernelJob("x", {}).status().message());
  absl::StatusOr<std::unique_ptr<ShardRunner>> bad =
      CreateShardRunner("primes", {{"to", "12x"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "--to: '12x' is not a non-negative integer");
}

KernelInfo InfoNamed(const std::string& name) {
  KernelInfo info = *FindKernel("sleep");
  info.name = name;
  return info;
}

using KernelRegistryDeathTest = ::testing::Test;

TEST_F(KernelRegistryDeathTest, RegisteringANameTwiceAborts) {
  EXPECT_DEATH(internal::RegisterKernel(InfoNamed("pi")),
               "kernel 'pi' registered twice");
}

// Registers a kernel with no worker side (as coordinator tests do with
// their doubles) in a child process, so the registry here stays as built,
// and exits 0 if only CreateShardRunner refuses it, with UNIMPLEMENTED.
void CheckKernelWithoutAWorkerSide() {
  KernelInfo info = InfoNamed("coordinator_only");
  info.create_runner = nullptr;
  internal::RegisterKernel(info);
  const bool job_ok = CreateKernelJob("coordinator_only", {{"ms", "1"}}).ok();
  const absl::Status runner =
      CreateShardRunner("coordinator_only", {{"ms", "1"}}).status();
  std::exit(job_ok && runner.code() == absl::StatusCode::kUnimplemented &&
                    absl::StrContains(runner.message(), "no worker side")
                ? 0
                : 1);
}

TEST_F(KernelRegistryDeathTest, AKernelWithoutAWorkerSideCannotRunShards) {
  EXPECT_EXIT(CheckKernelWithoutAWorkerSide(), ::testing::ExitedWithCode(0),
              "");
}

TEST_F(KernelRegistryDeathTest, RegisteringWithoutANameOrCreateAborts) {
  EXPECT_DEATH(internal::RegisterKernel(InfoNamed("")), "empty name");
  KernelInfo no_create = InfoNamed("new_kernel");
  no_create.create = nullptr;
  EXPECT_DEATH(internal::RegisterKernel(no_create), "has no create");
}

}  // namespace
}  // namespace shardex
