#include "kernels/kernel.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shardex {
namespace {

using Registry = std::map<std::string, KernelInfo>;

// Function-local static so registrations from other translation units work
// whatever order static initialisers run in. Leaked on purpose: kernels may
// be looked up during shutdown, after destructors of statics have run.
Registry& GetRegistry() {
  static Registry* const registry = new Registry;
  return *registry;
}

// Registration happens before main(), where no Status can be returned to
// anyone; a broken registration is a build bug, so stop loudly.
[[noreturn]] void DieBadRegistration(const std::string& why) {
  std::fprintf(stderr, "shardex: bad kernel registration: %s\n", why.c_str());
  std::abort();
}

}  // namespace

namespace internal {

bool RegisterKernel(KernelInfo info) {
  if (info.name.empty()) DieBadRegistration("kernel with an empty name");
  if (!info.create) {
    DieBadRegistration(absl::StrCat("kernel '", info.name, "' has no create"));
  }
  std::string name = info.name;
  const bool inserted = GetRegistry().emplace(name, std::move(info)).second;
  if (!inserted) {
    DieBadRegistration(absl::StrCat("kernel '", name, "' registered twice"));
  }
  return true;
}

}  // namespace internal

const KernelInfo* FindKernel(const std::string& name) {
  const Registry& registry = GetRegistry();
  auto it = registry.find(name);
  return it == registry.end() ? nullptr : &it->second;
}

std::vector<const KernelInfo*> AllKernels() {
  std::vector<const KernelInfo*> kernels;
  for (const auto& [name, info] : GetRegistry()) kernels.push_back(&info);
  return kernels;  // std::map iterates in name order
}

namespace {

// The kernel named `kernel`, or NOT_FOUND listing the known ones.
absl::StatusOr<const KernelInfo*> FindKnownKernel(const std::string& kernel) {
  const KernelInfo* info = FindKernel(kernel);
  if (info != nullptr) return info;
  std::vector<std::string> known;
  for (const KernelInfo* k : AllKernels()) known.push_back(k->name);
  return absl::NotFoundError(
      absl::StrCat("unknown kernel '", kernel,
                   "' (known: ", absl::StrJoin(known, ", "), ")"));
}

// A factory's result, with a null object turned into an error.
template <typename Side>
absl::StatusOr<std::unique_ptr<Side>> NotNull(
    absl::StatusOr<std::unique_ptr<Side>> side, const std::string& kernel) {
  if (side.ok() && *side == nullptr) {
    return absl::InternalError(
        absl::StrCat("kernel '", kernel, "' created a null object"));
  }
  return side;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KernelJob>> CreateKernelJob(
    const std::string& kernel, const KernelArgs& args) {
  absl::StatusOr<const KernelInfo*> info = FindKnownKernel(kernel);
  if (!info.ok()) return info.status();
  return NotNull((*info)->create(args), kernel);
}

absl::StatusOr<std::unique_ptr<ShardRunner>> CreateShardRunner(
    const std::string& kernel, const KernelArgs& args) {
  absl::StatusOr<const KernelInfo*> info = FindKnownKernel(kernel);
  if (!info.ok()) return info.status();
  if (!(*info)->create_runner) {
    return absl::UnimplementedError(absl::StrCat(
        "kernel '", kernel, "' has no worker side (no create_runner)"));
  }
  return NotNull((*info)->create_runner(args), kernel);
}

}  // namespace shardex
