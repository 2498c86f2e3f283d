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

absl::StatusOr<std::unique_ptr<KernelJob>> CreateKernelJob(
    const std::string& kernel, const KernelArgs& args) {
  const KernelInfo* info = FindKernel(kernel);
  if (info == nullptr) {
    std::vector<std::string> known;
    for (const KernelInfo* k : AllKernels()) known.push_back(k->name);
    return absl::NotFoundError(
        absl::StrCat("unknown kernel '", kernel,
                     "' (known: ", absl::StrJoin(known, ", "), ")"));
  }
  absl::StatusOr<std::unique_ptr<KernelJob>> job = info->create(args);
  if (job.ok() && *job == nullptr) {
    return absl::InternalError(
        absl::StrCat("kernel '", kernel, "' created a null job"));
  }
  return job;
}

}  // namespace shardex
