#include "tests/test_cluster.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/token.h"

namespace shardex {

namespace {

constexpr char kEnv[] = "/usr/bin/env";
constexpr char kClusterVar[] = "SHARDEX_TEST_CLUSTER";

std::string TempDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string UniqueDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string dir =
      absl::StrCat(TempDir(), "/", prefix, "-", getpid(), "-", counter++);
  mkdir(dir.c_str(), 0755);
  return dir;
}

// The file's contents, or "" when it cannot be read (yet).
std::string ReadOrEmpty(const std::string& path) {
  return ReadFile(path).value_or("");
}

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// /proc/PID/stat: "pid (comm) S ppid pgrp ...". comm may hold spaces and
// parentheses, so parse after the last ')'.
bool ReadStat(pid_t pid, char* state, pid_t* ppid, pid_t* pgid) {
  const std::string stat = ReadOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  if (fields.size() < 3 || fields[0].empty()) return false;
  *state = fields[0][0];
  int p = 0, g = 0;
  if (!absl::SimpleAtoi(fields[1], &p) || !absl::SimpleAtoi(fields[2], &g)) {
    return false;
  }
  *ppid = p;
  *pgid = g;
  return true;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (struct dirent* e = readdir(proc)) {
    int pid = 0;
    if (absl::SimpleAtoi(e->d_name, &pid) && pid > 0) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

std::string DescribeAll(const std::vector<ClusterProcess>& procs) {
  std::vector<std::string> lines;
  for (const ClusterProcess& p : procs) lines.push_back(p.Describe());
  return absl::StrJoin(lines, "\n");
}

}  // namespace

std::vector<ClusterProcess> TaggedProcesses(
    const std::vector<std::string>& markers) {
  std::vector<ClusterProcess> out;
  const pid_t self = getpid();
  for (pid_t pid : AllPids()) {
    if (pid == self) continue;
    const std::string environ =
        ReadOrEmpty(absl::StrCat("/proc/", pid, "/environ"));
    if (environ.empty()) continue;  // gone, a zombie, or not ours
    std::vector<std::string> vars =
        absl::StrSplit(environ, '\0', absl::SkipEmpty());
    bool tagged = false;
    ClusterProcess p;
    for (const std::string& v : vars) {
      for (const std::string& m : markers) tagged = tagged || v == m;
      if (absl::StartsWith(v, "SHARDEX_") &&
          !absl::StartsWith(v, kClusterVar)) {
        std::pair<std::string, std::string> kv =
            absl::StrSplit(v, absl::MaxSplits('=', 1));
        p.env.insert(std::move(kv));
      }
    }
    if (!tagged) continue;
    char state = '?';
    if (!ReadStat(pid, &state, &p.ppid, &p.pgid)) continue;
    if (state == 'Z' || state == 'X') continue;  // dead, not yet reaped
    p.pid = pid;
    std::string cmdline = ReadOrEmpty(absl::StrCat("/proc/", pid, "/cmdline"));
    while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    p.cmdline = std::move(cmdline);
    out.push_back(std::move(p));
  }
  return out;
}

CliRun CollectCliRun(Subprocess& p, absl::Duration timeout,
                    const std::string& stdout_file,
                    const std::string& stderr_file) {
  CliRun run;
  absl::StatusOr<int> st = p.Wait(timeout);
  if (!st.ok()) {
    p.Stop(absl::ZeroDuration());
    run.err = "timed out\n";
  } else if (WIFEXITED(*st)) {
    run.exit_code = WEXITSTATUS(*st);
  } else {
    run.exit_code = 128 + WTERMSIG(*st);
  }
  run.out = ReadOrEmpty(stdout_file);
  run.err += ReadOrEmpty(stderr_file);
  return run;
}

std::string ShardexBinary() {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "shardex", "/cli/shardex");
}

CliRun RunCli(const std::vector<std::string>& args, absl::Duration timeout) {
  auto p = BackgroundCli::Start(args);
  if (!p.ok()) {
    CliRun run;
    run.err = std::string(p.status().message());
    return run;
  }
  return (*p)->Finish(timeout);
}

absl::StatusOr<std::unique_ptr<BackgroundCli>> BackgroundCli::Start(
    const std::vector<std::string>& args) {
  std::unique_ptr<BackgroundCli> cli(new BackgroundCli);
  const std::string dir = UniqueDir("cli");
  cli->stdout_file_ = dir + "/stdout";
  cli->stderr_file_ = dir + "/stderr";
  Subprocess::Options opts;
  opts.stdout_file = cli->stdout_file_;
  opts.stderr_file = cli->stderr_file_;
  std::vector<std::string> argv = {ShardexBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = Subprocess::Start(argv, opts);
  if (!p.ok()) return p.status();
  cli->process_ = std::move(p).value();
  return cli;
}

CliRun BackgroundCli::Finish(absl::Duration timeout) {
  return CollectCliRun(*process_, timeout, stdout_file_, stderr_file_);
}

std::string ClusterProcess::Describe() const {
  return absl::StrCat("pid ", pid, " (ppid ", ppid, ", pgid ", pgid,
                      "): ", cmdline);
}

// ---------------------------------------------------------------- cluster

absl::StatusOr<std::unique_ptr<TestCluster>> TestCluster::Start(
    std::vector<std::string> coordinator_flags, TlsFiles client_tls) {
  std::unique_ptr<TestCluster> c(new TestCluster);
  c->dir_ = UniqueDir("cluster");
  mkdir((c->dir_ + "/tmp").c_str(), 0755);
  c->state_dir_ = c->dir_ + "/state";
  c->client_tls_ = std::move(client_tls);
  c->coordinator_flags_ = std::move(coordinator_flags);
  if (absl::Status st = c->StartCoordinator("127.0.0.1:0"); !st.ok()) {
    return st;
  }
  return c;
}

std::vector<std::string> TestCluster::TaggedArgv(
    const std::string& command) const {
  return {kEnv, absl::StrCat(kClusterVar, "=", dir_),
          absl::StrCat("TMPDIR=", dir_, "/tmp"), ShardexBinary(), command};
}

absl::Status TestCluster::StartCoordinator(const std::string& listen) {
  const std::string log = dir_ + "/coordinator.log";
  // A new port file per start: its appearance says this one is listening.
  const std::string port_file =
      absl::StrCat(dir_, "/port-", coordinator_starts_++);
  std::vector<std::string> argv = TaggedArgv("coordinator");
  argv.push_back("--listen=" + listen);
  argv.push_back("--port-file=" + port_file);
  if (!state_dir_.empty()) argv.push_back("--state-dir=" + state_dir_);
  argv.insert(argv.end(), coordinator_flags_.begin(), coordinator_flags_.end());
  std::ofstream(log, std::ios::app)
      << "=== test cluster: coordinator start " << coordinator_starts_ << " on "
      << listen << "\n";
  Subprocess::Options opts;
  opts.stdout_file = opts.stderr_file = log;
  auto p = Subprocess::Start(argv, opts);
  if (!p.ok()) return p.status();
  coordinator_ = std::move(p).value();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string port;
  while ((port = ReadOrEmpty(port_file)).empty()) {
    if (!coordinator_->running() || absl::Now() > deadline) {
      coordinator_->Stop(absl::ZeroDuration());
      return absl::InternalError(absl::StrCat("coordinator did not start: ",
                                              Tail(ReadOrEmpty(log), 2000)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  while (!port.empty() && (port.back() == '\n')) port.pop_back();
  address_ = absl::StrCat("127.0.0.1:", port);
  // A fresh channel: the old one may sit in reconnect backoff.
  ClientOptions client;
  client.coordinator = address_;
  client.tls = client_tls_;
  absl::StatusOr<std::string> token = ReadTokenFile(token_file());
  if (!token.ok()) return token.status();
  client.token = *token;
  client_ = std::make_unique<CoordinatorClient>(client);
  return absl::OkStatus();
}

void TestCluster::KillCoordinator() {
  if (coordinator_ == nullptr) return;
  coordinator_->Signal(SIGKILL);
  coordinator_->Stop(absl::ZeroDuration());  // reaps
}

absl::Status TestCluster::RestartCoordinator() {
  if (coordinator_ != nullptr && coordinator_->running()) {
    return absl::FailedPreconditionError(
        "the coordinator still runs; KillCoordinator() first");
  }
  // The old listening socket dies with its process, but a lingering
  // connection can keep the port busy for a moment: retry briefly.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::Status st;
  do {
    st = StartCoordinator(address_);
    if (st.ok()) return st;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  return st;
}

TestCluster::~TestCluster() {
  Shutdown();
  // Hygiene: nothing of ours outlives the test, leaked or not.
  for (const ClusterProcess& p : Processes()) kill(p.pid, SIGKILL);
}

void TestCluster::Shutdown() {
  for (auto& w : workers_) w->Signal(SIGCONT);  // a stopped one cannot exit
  for (auto& w : workers_) w->Signal(SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (auto& w : workers_) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() || !w->Wait(left).ok()) {
      w->Stop(absl::ZeroDuration());
    }
  }
  if (coordinator_ != nullptr) coordinator_->Stop(absl::Seconds(5));
}

absl::StatusOr<int> TestCluster::AddWorker(
    int threads, int processes, std::vector<std::string> extra_flags) {
  const int index = workers_.size();
  Subprocess::Options opts;
  opts.stdout_file = opts.stderr_file =
      absl::StrCat(dir_, "/worker-", index, ".log");
  std::vector<std::string> argv = TaggedArgv("worker");
  argv.push_back("--coordinator=" + address_);
  for (const std::string& flag : AccessFlags()) argv.push_back(flag);
  argv.push_back(absl::StrCat("--threads=", threads));
  if (processes > 0) argv.push_back(absl::StrCat("--processes=", processes));
  argv.push_back(absl::StrCat("--name=test-worker-", index));
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  auto p = Subprocess::Start(argv, opts);
  if (!p.ok()) return p.status();
  workers_.push_back(std::move(p).value());
  return index;
}

absl::StatusOr<int> TestCluster::WaitForWorkerExit(int index,
                                                   absl::Duration timeout) {
  return workers_[index]->Wait(timeout);
}

absl::Status TestCluster::WaitForWorkers(size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    auto workers = client_->ListWorkers();
    if (workers.ok() && workers->size() >= n) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("fewer than ", n, " workers registered (",
                       workers.ok() ? absl::StrCat(workers->size())
                                    : std::string(workers.status().message()),
                       ")"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::StatusOr<shardex::v1::WorkerInfo> TestCluster::WorkerInfoOf(int index) {
  auto workers = client_->ListWorkers();
  if (!workers.ok()) return workers.status();
  for (const auto& w : *workers) {
    if (static_cast<pid_t>(w.pid()) == workers_[index]->pid()) return w;
  }
  return absl::NotFoundError(
      absl::StrCat("worker ", index, " is not registered"));
}

std::vector<std::string> TestCluster::AccessFlags() const {
  std::vector<std::string> flags = {"--token-file=" + token_file()};
  if (!client_tls_.ca.empty()) flags.push_back("--tls-ca=" + client_tls_.ca);
  if (!client_tls_.cert.empty()) {
    flags.push_back("--tls-cert=" + client_tls_.cert);
    flags.push_back("--tls-key=" + client_tls_.key);
  }
  return flags;
}

CliRun TestCluster::Cli(const std::string& command,
                        std::vector<std::string> args, absl::Duration timeout) {
  std::vector<std::string> argv = {command, "--coordinator=" + address_};
  for (const std::string& flag : AccessFlags()) argv.push_back(flag);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCli(argv, timeout);
}

absl::StatusOr<std::unique_ptr<BackgroundCli>> TestCluster::StartCli(
    const std::string& command, std::vector<std::string> args) {
  std::vector<std::string> argv = {command, "--coordinator=" + address_};
  for (const std::string& flag : AccessFlags()) argv.push_back(flag);
  argv.insert(argv.end(), args.begin(), args.end());
  return BackgroundCli::Start(argv);
}

absl::StatusOr<shardex::v1::JobStatus> TestCluster::WaitForJob(
    uint64_t job_id,
    const std::function<bool(const shardex::v1::JobStatus&)>& done,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<shardex::v1::JobStatus> last =
      absl::UnavailableError("no status yet");
  while (true) {
    absl::StatusOr<shardex::v1::JobStatus> s = client_->GetJob(job_id);
    if (s.ok()) {
      last = s;
      if (done(*s)) return s;
    } else if (s.status().code() != absl::StatusCode::kUnavailable &&
               s.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return s.status();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "job ", job_id, " did not reach the expected state; last status: ",
          last.ok() ? last->ShortDebugString()
                    : std::string(last.status().message())));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// ------------------------------------------------------- processes, leaks

std::vector<ClusterProcess> TestCluster::Processes() {
  return TaggedProcesses({absl::StrCat(kClusterVar, "=", dir_),
                          absl::StrCat("TMPDIR=", dir_, "/tmp")});
}

std::vector<ClusterProcess> TestCluster::ShardProcesses() {
  std::set<pid_t> daemons;
  if (coordinator_ != nullptr && coordinator_->running()) {
    daemons.insert(coordinator_->pid());
  }
  for (auto& w : workers_) {
    if (w->running()) daemons.insert(w->pid());
  }
  std::vector<ClusterProcess> out;
  for (ClusterProcess& p : Processes()) {
    if (daemons.count(p.pid) == 0) out.push_back(std::move(p));
  }
  return out;
}

absl::Status TestCluster::WaitForNoShardProcesses(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::vector<ClusterProcess> left = ShardProcesses();
    if (left.empty()) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          left.size(), " shard process(es) left after ",
          absl::FormatDuration(timeout), ":\n", DescribeAll(left)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status TestCluster::WaitForNoProcesses(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::vector<ClusterProcess> left = Processes();
    if (left.empty()) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          left.size(), " process(es) of the cluster left after ",
          absl::FormatDuration(timeout), ":\n", DescribeAll(left)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string TestCluster::LogTails(size_t bytes) const {
  std::string out =
      absl::StrCat("--- coordinator.log\n",
                   Tail(ReadOrEmpty(dir_ + "/coordinator.log"), bytes));
  for (size_t i = 0; i < workers_.size(); ++i) {
    absl::StrAppend(
        &out, "\n--- worker-", i, ".log\n",
        Tail(ReadOrEmpty(absl::StrCat(dir_, "/worker-", i, ".log")), bytes));
  }
  return out;
}

}  // namespace shardex
