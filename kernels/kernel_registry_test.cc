#include <memory>
#include <string>
#include <vector>

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

TEST(KernelRegistryTest, CreatesAJobThatRuns) {
  absl::StatusOr<std::unique_ptr<KernelJob>> job =
      CreateKernelJob("primes", {{"to", "100"}});
  ASSERT_TRUE(job.ok()) << job.status();
  const Domain d = (*job)->domain();
  EXPECT_EQ(d.kind, Domain::Kind::kRange);
  EXPECT_EQ(d.lo, 0u);
  EXPECT_EQ(d.hi, 100u);
  EXPECT_EQ(testing::RunJob(**job, 4).value().value, "25");
}

TEST(KernelRegistryTest, PassesTheKernelsArgumentErrorsThrough) {
  absl::StatusOr<std::unique_ptr<KernelJob>> job =
      CreateKernelJob("primes", {{"to", "100"}, {"foo", "1"}});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(), "unknown argument --foo for kernel primes");
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

TEST_F(KernelRegistryDeathTest, RegisteringWithoutANameOrCreateAborts) {
  EXPECT_DEATH(internal::RegisterKernel(InfoNamed("")), "empty name");
  KernelInfo no_create = InfoNamed("new_kernel");
  no_create.create = nullptr;
  EXPECT_DEATH(internal::RegisterKernel(no_create), "has no create");
}

}  // namespace
}  // namespace shardex
