#include "fuzz/fuzz_env.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/text_checks.h"
#include "coordinator/scheduler.h"
#include "glog/logging.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "kernels/kernel.h"

namespace shardex {
namespace fuzz {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz sandbox: %s\n", what.c_str());
  std::abort();
}

void MustMkdir(const std::string& path) {
  if (absl::Status st = MakeDirs(path, 0700, "fuzz sandbox"); !st.ok()) {
    Die(std::string(st.message()));
  }
}

void MustWrite(const std::string& path, const std::string& data) {
  if (absl::Status st = WriteFileAtomically(path, data); !st.ok()) {
    Die(std::string(st.message()));
  }
}

std::string TempBase() {
  for (const char* var : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* v = getenv(var);
    if (v != nullptr && v[0] == '/') return v;
  }
  struct stat st;
  if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
      access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return "/tmp";
}

SandboxDirs* MakeSandbox() {
  // Library logging (a journal's errors, Recover's INFO, protobuf's UTF-8
  // complaints) would drown the fuzzer's own output; kept when verbose.
  // LOG(FATAL) and CHECK still abort, which is what we want.
  FLAGS_logtostderr = true;
  if (!Verbose()) {
    FLAGS_minloglevel = google::GLOG_FATAL;
    google::protobuf::SetLogHandler(nullptr);
  }

  std::string tmpl = TempBase() + "/shardex-fuzz-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    Die(absl::StrCat("mkdtemp ", tmpl, ": ", strerror(errno)));
  }
  auto* dirs = new SandboxDirs;
  dirs->root = tmpl;
  dirs->files = tmpl + "/files";
  dirs->out = tmpl + "/out";
  dirs->scratch = tmpl + "/scratch";
  dirs->state = tmpl + "/state";
  for (const std::string* d :
       {&dirs->files, &dirs->out, &dirs->scratch, &dirs->state}) {
    MustMkdir(*d);
  }
  // What fuzzed input paths can find (the dictionary names them).
  MustWrite(dirs->files + "/a.txt", "alpha beta\ngamma delta\nalpha\n");
  MustWrite(dirs->files + "/lines.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
  MustWrite(dirs->files + "/empty", "");
  MustMkdir(dirs->files + "/dir");
  // No chdir into the sandbox: libFuzzer opens corpus and artifact paths,
  // which may be relative, after the first input has run. MapPath makes
  // every path absolute instead.
  std::atexit([] { RemoveTree(Sandbox().root).IgnoreError(); });
  return dirs;
}

}  // namespace

const SandboxDirs& Sandbox() {
  static const SandboxDirs* const dirs = MakeSandbox();
  return *dirs;
}

std::string MapPath(const std::string& dir, const std::string& path) {
  if (path.empty()) return path;
  std::string name = path;
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  // No component may climb out: "." and ".." are the only names that do
  // once no '/' is left.
  if (name == "." || name == "..") name.insert(0, "_");
  return absl::StrCat(dir, "/", name);
}

std::string MapPathList(const std::string& dir, const std::string& paths) {
  std::vector<std::string> parts = absl::StrSplit(paths, '\n');
  for (std::string& p : parts) p = MapPath(dir, p);
  return absl::StrJoin(parts, "\n");
}

void SanitizeSpec(shardex::v1::JobSpec& spec) {
  const SandboxDirs& sb = Sandbox();
  spec.set_output_dir(MapPath(sb.out, spec.output_dir()));

  if (spec.has_command()) {
    shardex::v1::CommandSpec* cmd = spec.mutable_command();
    for (std::string& in : *cmd->mutable_inputs()) in = MapPath(sb.files, in);
    cmd->set_lines(MapPath(sb.files, cmd->lines()));
    // Runs on the coordinator at Reduce. A NUL byte is kept, so the
    // validation that rejects it stays reachable.
    if (!cmd->reduce_command().empty() &&
        !HasNul(cmd->reduce_command())) {
      cmd->set_reduce_command("cat");
    }
  }

  const KernelInfo* info = FindKernel(spec.kernel());
  if (info == nullptr) return;
  auto& args = *spec.mutable_args();
  for (const KernelParam& p : info->params) {
    if (!p.is_path) continue;
    auto it = args.find(p.name);
    if (it == args.end()) continue;
    it->second = p.kind == KernelParam::Kind::kPositionalList
                     ? MapPathList(sb.files, it->second)
                     : MapPath(sb.files, it->second);
  }
}

void ResetOutputs() {
  const SandboxDirs& sb = Sandbox();
  RemoveTree(sb.out).IgnoreError();
  MustMkdir(sb.out);
}

bool Verbose() {
  static const bool verbose = getenv("SHARDEX_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

bool FiltersOn() {
  static const bool on = getenv("SHARDEX_FUZZ_NO_FILTERS") == nullptr;
  return on;
}

uint64_t MaxShardsPerJob() {
  static const uint64_t max = [] {
    uint64_t v = FiltersOn() ? 100'000 : Scheduler::Options().max_shards_per_job;
    const char* env = getenv("SHARDEX_FUZZ_MAX_SHARDS");
    if (env != nullptr && !absl::SimpleAtoi(env, &v)) {
      Die(absl::StrCat("SHARDEX_FUZZ_MAX_SHARDS=", env, ": not a number"));
    }
    return v;
  }();
  return max;
}

namespace {

class SilentErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
  void AddWarning(int, int, const std::string&) override {}
};

}  // namespace

bool ParseSpec(const uint8_t* data, size_t size, shardex::v1::JobSpec* spec) {
  if (spec->ParseFromArray(data, static_cast<int>(size))) return true;
  spec->Clear();
  SilentErrors errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  return parser.ParseFromString(
      std::string(reinterpret_cast<const char*>(data), size), spec);
}

}  // namespace fuzz
}  // namespace shardex
