#include "tests/netns_hosts.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"

namespace shardex {

namespace {

constexpr char kNetnsPrefix[] = "sdxh";  // + "<pid>-<n>"
constexpr char kNetnsDir[] = "/run/netns";
constexpr char kSubnet[] = "10.200.77.";
constexpr char kTagVar[] = "SHARDEX_TEST_CLUSTER";

// The first of `candidates` that exists, or "".
std::string FindTool(const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::string IpTool() {
  return FindTool({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
}

std::string UnshareTool() {
  return FindTool({"/usr/bin/unshare", "/bin/unshare"});
}

std::string ScratchDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

void MakeDirs(const std::string& path) {
  std::string sofar;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&sofar, "/", part);
    mkdir(sofar.c_str(), 0755);
  }
}

// Starts `argv` with its output in files named by `log_base`.
absl::StatusOr<std::unique_ptr<HostProcess>> StartLogged(
    const std::vector<std::string>& argv, const std::string& log_base) {
  Subprocess::Options opts;
  opts.stdout_file = log_base + ".out";
  opts.stderr_file = log_base + ".err";
  auto p = Subprocess::Start(argv, opts);
  if (!p.ok()) return p.status();
  return std::make_unique<HostProcess>(std::move(p).value(), opts.stdout_file,
                                       opts.stderr_file);
}

// Runs a tool (`ip ...`) to its end; its output in a throwaway file.
CliRun RunTool(const std::vector<std::string>& argv) {
  static std::atomic<int> counter{0};
  const std::string base = absl::StrCat(ScratchDir(), "/netns-tool-",
                                        getpid(), "-", counter++);
  auto p = StartLogged(argv, base);
  CliRun run;
  if (p.ok()) run = (*p)->Finish(absl::Seconds(30));
  if (!p.ok()) run.err = std::string(p.status().message());
  unlink((base + ".out").c_str());
  unlink((base + ".err").c_str());
  return run;
}

absl::Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {IpTool()};
  argv.insert(argv.end(), args.begin(), args.end());
  CliRun run = RunTool(argv);
  if (run.exit_code == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": exit ",
                                          run.exit_code, ": ",
                                          absl::StripAsciiWhitespace(run.err)));
}

// Names in /run/netns starting with `prefix`.
std::vector<std::string> NetnsNamed(const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = opendir(kNetnsDir);
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    if (absl::StartsWith(e->d_name, prefix)) out.push_back(e->d_name);
  }
  closedir(d);
  return out;
}

// The pids of the processes in namespace `netns`.
std::vector<pid_t> PidsIn(const std::string& netns) {
  std::vector<pid_t> pids;
  CliRun run = RunTool({IpTool(), "netns", "pids", netns});
  for (absl::string_view line : absl::StrSplit(run.out, '\n')) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

// Kills everything in `netns` and deletes it.
void RemoveNetns(const std::string& netns) {
  for (pid_t pid : PidsIn(netns)) kill(pid, SIGKILL);
  (void)Ip({"netns", "del", netns});
}

// Namespaces "sdxh<pid>-..." of a test process that is gone.
void RemoveStaleNetns() {
  for (const std::string& name : NetnsNamed(kNetnsPrefix)) {
    absl::string_view rest = name;
    absl::ConsumePrefix(&rest, kNetnsPrefix);
    int pid = 0;
    if (!absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid)) continue;
    if (pid == getpid()) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // its test still runs
    RemoveNetns(name);
  }
}

}  // namespace

// ----------------------------------------------------------- HostProcess

HostProcess::HostProcess(std::unique_ptr<Subprocess> process,
                         std::string stdout_file, std::string stderr_file)
    : process_(std::move(process)),
      stdout_file_(std::move(stdout_file)),
      stderr_file_(std::move(stderr_file)) {}

void HostProcess::Kill() {
  process_->Signal(SIGKILL);
  process_->Stop(absl::ZeroDuration());
}

CliRun HostProcess::Finish(absl::Duration timeout) {
  return CollectCliRun(*process_, timeout, stdout_file_, stderr_file_);
}

std::string HostProcess::Log() const {
  return ReadFile(stdout_file_).value_or("") +
         ReadFile(stderr_file_).value_or("");
}

// ------------------------------------------------------------ NetnsHosts

absl::Status NetnsHosts::Available() {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "making hosts from network namespaces needs root");
  }
  if (IpTool().empty()) {
    return absl::FailedPreconditionError(
        "no `ip` command (install iproute2: scripts/setup.sh)");
  }
  if (UnshareTool().empty()) {
    return absl::FailedPreconditionError(
        "no `unshare` command (install util-linux)");
  }
  const std::string probe = absl::StrCat(kNetnsPrefix, getpid(), "-probe");
  if (absl::Status st = Ip({"netns", "add", probe}); !st.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make a network namespace: ", st.message()));
  }
  CliRun mount = RunTool({IpTool(), "netns", "exec", probe, UnshareTool(),
                          "--mount", "--propagation", "private", "true"});
  (void)Ip({"netns", "del", probe});
  if (mount.exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make a mount namespace: ",
                     absl::StripAsciiWhitespace(mount.err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NetnsHosts>> NetnsHosts::Create(
    int hosts, const std::string& dir) {
  if (hosts < 1 || hosts > 26) {
    return absl::InvalidArgumentError("between 1 and 26 hosts");
  }
  RemoveStaleNetns();
  static std::atomic<int> counter{0};
  std::unique_ptr<NetnsHosts> h(new NetnsHosts);
  h->prefix_ = absl::StrCat(kNetnsPrefix, getpid(), "-", counter++);
  h->dir_ = dir;
  for (int i = 0; i < hosts; ++i) h->names_.push_back(std::string(1, 'a' + i));
  if (absl::Status st = h->Build(hosts); !st.ok()) {
    (void)h->Destroy();
    return st;
  }
  return h;
}

absl::Status NetnsHosts::Build(int hosts) {
  MakeDirs(shared_dir());
  MakeDirs(local_dir());  // only a mount point: empty outside the hosts
  const std::string sw = switch_netns();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"netns", "add", sw},
           {"-n", sw, "link", "add", "br0", "type", "bridge"},
           {"-n", sw, "link", "set", "br0", "up"}}) {
    if (absl::Status st = Ip(args); !st.ok()) return st;
  }
  for (int i = 0; i < hosts; ++i) {
    for (const std::string& d :
         {home(i), state_dir(i), local_backing_dir(i), home(i) + "/tmp"}) {
      MakeDirs(d);
    }
    const std::string ns = netns(i);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"netns", "add", ns},
             {"-n", sw, "link", "add", switch_port(i), "type", "veth", "peer",
              "name", "eth0", "netns", ns},
             {"-n", sw, "link", "set", switch_port(i), "master", "br0", "up"},
             {"-n", ns, "link", "set", "lo", "up"},
             {"-n", ns, "addr", "add", ip(i) + "/24", "dev", "eth0"},
             {"-n", ns, "link", "set", "eth0", "up"}}) {
      if (absl::Status st = Ip(args); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

NetnsHosts::~NetnsHosts() { (void)Destroy(); }

std::string NetnsHosts::ip(int host) const {
  return absl::StrCat(kSubnet, host + 1);
}
std::string NetnsHosts::netns(int host) const {
  return absl::StrCat(prefix_, "-", names_[host]);
}
std::string NetnsHosts::switch_netns() const { return prefix_ + "-sw"; }
std::string NetnsHosts::switch_port(int host) const {
  return "port-" + names_[host];
}
std::string NetnsHosts::home(int host) const {
  return absl::StrCat(dir_, "/host-", names_[host], "/home");
}
std::string NetnsHosts::state_dir(int host) const {
  return absl::StrCat(dir_, "/host-", names_[host], "/state");
}
std::string NetnsHosts::local_backing_dir(int host) const {
  return absl::StrCat(dir_, "/host-", names_[host], "/local");
}
std::string NetnsHosts::shared_dir() const { return dir_ + "/shared"; }
std::string NetnsHosts::local_dir() const { return dir_ + "/local"; }

std::vector<std::string> NetnsHosts::AllNetns() const {
  std::vector<std::string> all = {switch_netns()};
  for (int i = 0; i < size(); ++i) all.push_back(netns(i));
  return all;
}

absl::StatusOr<std::unique_ptr<HostProcess>> NetnsHosts::Start(
    int host, const std::vector<std::string>& argv, const std::string& label) {
  if (destroyed_) return absl::FailedPreconditionError("hosts destroyed");
  // ip netns exec, unshare and sh each exec the next, so the pid is the
  // program's own; the bind mount lives and dies with its mount namespace.
  std::vector<std::string> wrapped = {
      IpTool(), "netns", "exec", netns(host), UnshareTool(), "--mount",
      "--propagation", "private", "/bin/sh", "-c",
      "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"", "sh",
      local_backing_dir(host), local_dir(), "/usr/bin/env",
      "HOME=" + home(host), "TMPDIR=" + home(host) + "/tmp",
      absl::StrCat(kTagVar, "=", dir_)};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return StartLogged(wrapped,
                     absl::StrCat(dir_, "/host-", names_[host], "/",
                                  processes_started_++, "-", label));
}

CliRun NetnsHosts::Run(int host, const std::vector<std::string>& argv,
                       absl::Duration timeout) {
  auto p = Start(host, argv, "run");
  if (!p.ok()) {
    CliRun run;
    run.err = std::string(p.status().message());
    return run;
  }
  return (*p)->Finish(timeout);
}

absl::Status NetnsHosts::LinkDown(int host) {
  return Ip({"-n", switch_netns(), "link", "set", switch_port(host), "down"});
}

absl::Status NetnsHosts::LinkUp(int host) {
  return Ip({"-n", switch_netns(), "link", "set", switch_port(host), "up"});
}

absl::Status NetnsHosts::Destroy() {
  if (destroyed_) return absl::OkStatus();
  destroyed_ = true;
  const std::string tag = absl::StrCat(kTagVar, "=", dir_);
  // Kill until nothing is left: a dying worker may still start a shard.
  std::vector<std::string> left;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    left.clear();
    for (const std::string& ns : AllNetns()) {
      for (pid_t pid : PidsIn(ns)) {
        kill(pid, SIGKILL);
        left.push_back(absl::StrCat("pid ", pid, " in ", ns));
      }
    }
    for (const ClusterProcess& p : TaggedProcesses({tag})) {
      kill(p.pid, SIGKILL);
      left.push_back(p.Describe());
    }
    if (!left.empty()) absl::SleepFor(absl::Milliseconds(50));
  } while (!left.empty() && absl::Now() < deadline);
  for (const std::string& ns : AllNetns()) RemoveNetns(ns);

  // The leak check.
  std::vector<std::string> leaks = left;
  for (const std::string& ns : NetnsNamed(prefix_)) {
    leaks.push_back("namespace " + ns);
  }
  CliRun links = RunTool({IpTool(), "-o", "link", "show"});
  for (int i = 0; i < size(); ++i) {
    if (absl::StrContains(links.out, switch_port(i) + "@")) {
      leaks.push_back("link " + switch_port(i) + " in the root namespace");
    }
  }
  for (const ClusterProcess& p : TaggedProcesses({tag})) {
    leaks.push_back(p.Describe());
  }
  if (leaks.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("left behind:\n", absl::StrJoin(leaks, "\n")));
}

}  // namespace shardex
