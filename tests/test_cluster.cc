#include "tests/test_cluster.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_util.h"

namespace shardex {

namespace {

std::string TempDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string UniqueDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string dir = absl::StrCat(TempDir(), "/", prefix, "-", getpid(), "-",
                                 counter++);
  mkdir(dir.c_str(), 0755);
  return dir;
}

// The file's contents, or "" when it cannot be read (yet).
std::string ReadOrEmpty(const std::string& path) {
  return ReadFile(path).value_or("");
}

}  // namespace

std::string ShardexBinary() {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "shardex", "/cli/shardex");
}

CliRun RunCli(const std::vector<std::string>& args, absl::Duration timeout) {
  const std::string dir = UniqueDir("cli");
  Subprocess::Options opts;
  opts.stdout_file = dir + "/stdout";
  opts.stderr_file = dir + "/stderr";
  std::vector<std::string> argv = {ShardexBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CliRun run;
  auto p = Subprocess::Start(argv, opts);
  if (!p.ok()) {
    run.err = std::string(p.status().message());
    return run;
  }
  absl::StatusOr<int> st = (*p)->Wait(timeout);
  if (!st.ok()) {
    (*p)->Stop(absl::ZeroDuration());
    run.err = "timed out";
  } else if (WIFEXITED(*st)) {
    run.exit_code = WEXITSTATUS(*st);
  } else {
    run.exit_code = 128 + WTERMSIG(*st);
  }
  run.out = ReadOrEmpty(opts.stdout_file);
  run.err += ReadOrEmpty(opts.stderr_file);
  return run;
}

absl::StatusOr<std::unique_ptr<TestCluster>> TestCluster::Start(
    std::vector<std::string> coordinator_flags) {
  std::unique_ptr<TestCluster> c(new TestCluster);
  c->dir_ = UniqueDir("cluster");
  const std::string port_file = c->dir_ + "/port";
  std::vector<std::string> argv = {ShardexBinary(), "coordinator",
                                   "--listen=127.0.0.1:0",
                                   "--port-file=" + port_file};
  argv.insert(argv.end(), coordinator_flags.begin(), coordinator_flags.end());
  Subprocess::Options opts;
  opts.stdout_file = opts.stderr_file = c->dir_ + "/coordinator.log";
  auto p = Subprocess::Start(argv, opts);
  if (!p.ok()) return p.status();
  c->coordinator_ = std::move(p).value();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string port;
  while ((port = ReadOrEmpty(port_file)).empty()) {
    if (!c->coordinator_->running() || absl::Now() > deadline) {
      return absl::InternalError(absl::StrCat(
          "coordinator did not start: ", ReadOrEmpty(opts.stdout_file)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  while (!port.empty() && (port.back() == '\n')) port.pop_back();
  c->address_ = absl::StrCat("127.0.0.1:", port);
  ClientOptions client;
  client.coordinator = c->address_;
  c->client_ = std::make_unique<CoordinatorClient>(client);
  return c;
}

TestCluster::~TestCluster() {
  for (auto& w : workers_) w->Signal(SIGKILL);
  for (auto& w : workers_) w->Stop(absl::ZeroDuration());
  if (coordinator_ != nullptr) coordinator_->Stop(absl::Seconds(5));
}

absl::StatusOr<int> TestCluster::AddWorker(int threads) {
  const int index = workers_.size();
  Subprocess::Options opts;
  opts.stdout_file = opts.stderr_file =
      absl::StrCat(dir_, "/worker-", index, ".log");
  auto p = Subprocess::Start(
      {ShardexBinary(), "worker", "--coordinator=" + address_,
       absl::StrCat("--threads=", threads),
       absl::StrCat("--name=test-worker-", index)},
      opts);
  if (!p.ok()) return p.status();
  workers_.push_back(std::move(p).value());
  return index;
}

absl::Status TestCluster::WaitForWorkers(size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    auto workers = client_->ListWorkers();
    if (workers.ok() && workers->size() >= n) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("fewer than ", n, " workers registered"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

CliRun TestCluster::Cli(const std::string& command,
                        std::vector<std::string> args,
                        absl::Duration timeout) {
  std::vector<std::string> argv = {command, "--coordinator=" + address_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCli(argv, timeout);
}

}  // namespace shardex
