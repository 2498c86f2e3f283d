#include "client/output_fetcher.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shardex {

namespace {

constexpr char kParamPrefix[] = "param-";
constexpr char kSuccess[] = "_SUCCESS";

// A name the coordinator could send that is a plain file name, never a path.
bool IsPlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos;
}

bool IsPartOrResult(const std::string& name) {
  return absl::StartsWith(name, "part-") || name == "result";
}

}  // namespace

OutputFetcher::OutputFetcher(StoreClient& store, uint64_t job_id,
                             OutputTargets targets)
    : store_(store), job_id_(job_id), targets_(std::move(targets)) {}

std::string OutputFetcher::Destination(const std::string& name) const {
  if (!IsPlainName(name)) return "";
  if (absl::StartsWith(name, kParamPrefix)) {
    auto it = targets_.params.find(name.substr(sizeof(kParamPrefix) - 1));
    if (it != targets_.params.end()) return it->second;
  }
  // Names the contract does not list are not this client's to write.
  const bool known = IsPartOrResult(name) || name == kSuccess ||
                     absl::StartsWith(name, kParamPrefix);
  if (targets_.dir.empty() || !known) return "";
  return absl::StrCat(targets_.dir, "/", name);
}

absl::Status OutputFetcher::Fetch(const std::string& name) {
  const std::string dest = Destination(name);
  if (dest.empty() || done_.count(name) > 0) return absl::OkStatus();
  absl::Status st = store_.ReadOutput(job_id_, name, dest);
  if (!st.ok()) return st;
  done_.insert(name);
  return absl::OkStatus();
}

absl::Status OutputFetcher::FetchNew() {
  absl::StatusOr<std::vector<v1::OutputFile>> files =
      store_.ListOutputs(job_id_);
  if (!files.ok()) return files.status();
  for (const v1::OutputFile& f : *files) {
    if (!IsPartOrResult(f.name())) continue;
    if (absl::Status st = Fetch(f.name()); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> OutputFetcher::FetchAll() {
  absl::StatusOr<std::vector<v1::OutputFile>> files =
      store_.ListOutputs(job_id_);
  if (!files.ok()) return files.status();
  bool success_listed = false;
  for (const v1::OutputFile& f : *files) {
    if (f.name() == kSuccess) {
      success_listed = true;
      continue;  // last of all
    }
    if (absl::Status st = Fetch(f.name()); !st.ok()) return st;
  }
  bool complete = true;
  for (const auto& [param, path] : targets_.params) {
    if (done_.count(kParamPrefix + param) == 0) complete = false;
  }
  if (!targets_.dir.empty()) {
    if (success_listed && complete) {
      if (absl::Status st = Fetch(kSuccess); !st.ok()) return st;
    }
    complete = complete && success_listed;
  }
  return complete;
}

}  // namespace shardex
