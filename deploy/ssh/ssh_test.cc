// deploy/ssh/shardex-ssh against real sshd: hosts from network namespaces
// (tests/netns_hosts.h), a coordinator with the built-in CA on host a
// (tests/netns_cluster.h), OpenSSH's sshd on hosts b and c, and the script
// run from host a. It must copy the binary, enrol and start the workers
// with a join token that shows in no process's arguments or environment
// and in no log, be idempotent, report an unreachable host by name while
// the others come up, report status, and stop the workers with a drain.
//
// Each sshd runs in its host's own mount namespace, with a copy of
// /etc/passwd bound over it in which root's home is the host's HOME (a
// login shell's HOME comes from passwd; binding over /root instead would
// hide the test's own directory, which Bazel keeps under /root/.cache), and
// a tmpfs over /run for its privilege-separation directory /run/sshd. So
// what the script puts in ~ on b is b's alone, and nothing is left on this
// machine's file system.
//
// Without root, namespaces, sshd, ssh or ssh-keygen the cluster test is
// skipped with the reason; the usage test runs anywhere.
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/netns_cluster.h"
#include "tests/netns_hosts.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

// The binary the script copies to the hosts, as a runfile path: the
// release's static binary, which needs nothing on a host but glibc.
constexpr char kHostBinary[] = "release/bin/shardex";
constexpr char kScript[] = "deploy/ssh/shardex-ssh";
constexpr char kSshd[] = "/usr/sbin/sshd";

constexpr int kA = 0;  // coordinator; runs shardex-ssh and the CLI
constexpr int kB = 1;  // sshd, a worker
constexpr int kC = 2;  // sshd, a worker
// In the hosts' subnet, but no host has it: ssh gets no route.
constexpr char kUnreachable[] = "10.200.77.9";

// Where the script keeps things on a host, relative to its HOME.
constexpr char kRemoteBin[] = "/.local/bin/shardex";
constexpr char kRemotePidFile[] = "/.local/state/shardex-ssh/worker.pid";
constexpr char kRemoteLog[] = "/.local/state/shardex-ssh/worker.log";
constexpr char kIdentity[] = "/.local/share/shardex/worker/config";

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "shardex", "/", path);
}

// The first of `dirs` holding an executable `name`, or "".
std::string FindProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

absl::Status SshAvailable() {
  if (access(kSshd, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "no /usr/sbin/sshd (install openssh-server: scripts/setup.sh)");
  }
  for (const char* tool : {"ssh", "ssh-keygen"}) {
    if (FindProgram(tool).empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no ", tool, " (install openssh-client: scripts/setup.sh)"));
    }
  }
  return absl::OkStatus();
}

// The network namespace of process `pid` (its inode), 0 if gone.
ino_t NetnsOf(const std::string& proc_file) {
  struct stat st;
  return stat(proc_file.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Every live process: its pid and its command line and environment, NULs
// as spaces.
std::vector<std::pair<pid_t, std::string>> ProcessTexts() {
  std::vector<std::pair<pid_t, std::string>> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (struct dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::string text =
        ReadFile(absl::StrCat("/proc/", pid, "/cmdline")).value_or("") + " " +
        ReadFile(absl::StrCat("/proc/", pid, "/environ")).value_or("");
    for (char& c : text) {
      if (c == '\0') c = ' ';
    }
    out.emplace_back(pid, std::move(text));
  }
  closedir(proc);
  return out;
}

// Regular files under `root` that contain `needle`, but for `skip` and
// anything under `skip_dir`.
std::vector<std::string> FilesContaining(const std::string& root,
                                         const std::string& needle,
                                         const std::set<std::string>& skip,
                                         const std::string& skip_dir) {
  // nftw's callback takes no context: the list is reached through this.
  static std::vector<std::string>* files;
  std::vector<std::string> all;
  files = &all;
  nftw(
      root.c_str(),
      [](const char* path, const struct stat*, int type, struct FTW*) {
        if (type == FTW_F) files->push_back(path);
        return 0;
      },
      16, FTW_PHYS);
  std::vector<std::string> hits;
  for (const std::string& f : all) {
    if (skip.count(f) > 0 || absl::StartsWith(f, skip_dir + "/")) continue;
    if (absl::StrContains(ReadFile(f).value_or(""), needle)) hits.push_back(f);
  }
  return hits;
}

// The pid in the script's report line for `target` ("TARGET: ok: ...
// pid N..."), or 0.
pid_t PidFor(const std::string& out, const std::string& target) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!absl::StartsWith(line, target + ": ")) continue;
    size_t at = line.find("pid ");
    if (at == absl::string_view::npos) return 0;
    absl::string_view rest = line.substr(at + 4);
    int pid = 0;
    (void)absl::SimpleAtoi(rest.substr(0, rest.find_first_not_of("0123456789")),
                           &pid);
    return pid;
  }
  return 0;
}

// The report line for `target`, or "".
std::string LineFor(const std::string& out, const std::string& target) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, target + ": ")) return std::string(line);
  }
  return "";
}

class SshDeployTest : public NetnsClusterTest {
 protected:
  void SetUp() override {
    if (absl::Status st = SshAvailable(); !st.ok()) {
      GTEST_SKIP() << "no OpenSSH here: " << st.message();
    }
    ASSERT_NO_FATAL_FAILURE(CreateHosts(3));
    if (hosts_ == nullptr) return;  // skipped
    ssh_dir_ = dir_ + "/ssh";
    ASSERT_EQ(mkdir(ssh_dir_.c_str(), 0700), 0);
    // The built-in CA: no --tls-* and no --insecure.
    ASSERT_NO_FATAL_FAILURE(StartCoordinator(false, {}, false));
    ASSERT_NO_FATAL_FAILURE(MakeKeys());
    for (int h : {kB, kC}) ASSERT_NO_FATAL_FAILURE(StartSshd(h));
    // Host a as the operator's machine: a client identity for `workers`
    // and `submit`, the hosts files and the worker token.
    query_host_ = kA;
    token_file_ = hosts_->home(kA) + "/worker.token";
    ASSERT_NO_FATAL_FAILURE(
        CreateToken("client", hosts_->home(kA) + "/client.token"));
    CliRun login = hosts_->Run(kA, {"/bin/sh", "-c",
                                    "exec \"$1\" login --join - --coordinator "
                                    "\"$2\" < \"$3\"",
                                    "login", ShardexBinary(), Address(),
                                    hosts_->home(kA) + "/client.token"});
    ASSERT_EQ(login.exit_code, 0) << login.err;
    ASSERT_NO_FATAL_FAILURE(CreateToken("worker", token_file_));
    secret_ = ReadFile(token_file_).value_or("");
    secret_ = Trim(secret_.substr(secret_.rfind('.') + 1));
    ASSERT_EQ(secret_.size(), 32u) << "not a join token in " << token_file_;
    for (int h : {kB, kC}) {
      mkdir((hosts_->local_backing_dir(h) + "/scratch").c_str(), 0755);
    }
    // One line with a user and a name, one with neither (named by its
    // address then) but a port; comments.
    const std::string worker = " --threads 1 --processes 2 --scratch-dir " +
                               hosts_->local_dir() + "/scratch";
    const std::string hosts = absl::StrCat(
        "# workers of ssh_test\n", Target(kB), " --name host-b", worker, "\n\n",
        Target(kC), worker, "   # named ", hosts_->ip(kC), "\n");
    hosts_file_ = hosts_->home(kA) + "/hosts.txt";
    ASSERT_TRUE(WriteFileAtomically(hosts_file_, hosts).ok());
    hosts_and_unreachable_ = hosts_->home(kA) + "/hosts-unreachable.txt";
    ASSERT_TRUE(WriteFileAtomically(hosts_and_unreachable_,
                                    absl::StrCat(hosts, kUnreachable, "\n"))
                    .ok());
  }

  void TearDown() override {
    if (hosts_ != nullptr && HasFailure()) {
      for (int h : {kB, kC}) {
        if (sshd_[h] != nullptr) {
          std::cerr << "--- sshd on host " << hosts_->name(h) << "\n"
                    << sshd_[h]->Log() << "\n";
        }
        std::cerr << "--- worker log on host " << hosts_->name(h) << "\n"
                  << ReadFile(hosts_->home(h) + kRemoteLog).value_or("")
                  << "\n";
      }
    }
    for (auto& sshd : sshd_) sshd.reset();  // kill -9, reap
    NetnsClusterTest::TearDown();  // kills what runs in the hosts, checks
  }

  // Enrolled hosts need no access flags.
  std::vector<std::string> AccessFlags(int) const override { return {}; }

  // "root@10.200.77.2" for b; "10.200.77.3:22" for c (the user is ours).
  std::string Target(int host) const {
    return host == kB ? "root@" + hosts_->ip(host) : hosts_->ip(host) + ":22";
  }

  // Host keys for b and c, a user key for host a, and ssh's configuration.
  void MakeKeys() {
    std::string script = absl::StrCat("set -e; cd ", ssh_dir_, "; ");
    for (const char* key : {"host_b", "host_c", "user"}) {
      absl::StrAppend(&script, "ssh-keygen -q -t ed25519 -N '' -C '' -f ", key,
                      "; ");
    }
    absl::StrAppend(&script, "cp user.pub authorized_keys; : > known_hosts; ");
    for (int h : {kB, kC}) {
      absl::StrAppend(&script, "printf '%s ' ", hosts_->ip(h),
                      " >> known_hosts; cat host_", hosts_->name(h),
                      ".pub >> known_hosts; ");
    }
    ASSERT_EQ(system(script.c_str()), 0) << script;
    // No prompts and no files of this machine's root: only what is here.
    ssh_config_ = ssh_dir_ + "/ssh_config";
    ASSERT_TRUE(
        WriteFileAtomically(
            ssh_config_,
            absl::StrCat("Host *\n  IdentityFile ", ssh_dir_, "/user\n",
                         "  IdentitiesOnly yes\n  UserKnownHostsFile ",
                         ssh_dir_, "/known_hosts\n",
                         "  GlobalKnownHostsFile /dev/null\n"
                         "  StrictHostKeyChecking yes\n  LogLevel ERROR\n"))
            .ok());
  }

  // This machine's /etc/passwd with root's home set to `home`, at `path`.
  static void WritePasswd(const std::string& home, const std::string& path) {
    auto passwd = ReadFile("/etc/passwd");
    ASSERT_TRUE(passwd.ok()) << passwd.status();
    std::vector<std::string> lines = absl::StrSplit(*passwd, '\n');
    bool found = false;
    for (std::string& line : lines) {
      std::vector<std::string> fields = absl::StrSplit(line, ':');
      if (fields.size() != 7 || fields[0] != "root") continue;
      fields[5] = home;
      line = absl::StrJoin(fields, ":");
      found = true;
    }
    ASSERT_TRUE(found) << "no root in /etc/passwd";
    ASSERT_TRUE(WriteFileAtomically(path, absl::StrJoin(lines, "\n")).ok());
    chmod(path.c_str(), 0644);
  }

  // sshd on `host`, listening on its address, root by key only.
  void StartSshd(int host) {
    const std::string& n = hosts_->name(host);
    const std::string config = absl::StrCat(ssh_dir_, "/sshd_config_", n);
    ASSERT_TRUE(
        WriteFileAtomically(
            config,
            absl::StrCat(
                "ListenAddress ", hosts_->ip(host), ":22\n", "HostKey ",
                ssh_dir_, "/host_", n, "\n", "AuthorizedKeysFile ", ssh_dir_,
                "/authorized_keys\n",
                "PermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                // No PAM session (no logind in a namespace); key only.
                "UsePAM no\n"
                "PidFile none\n"
                "PrintMotd no\n"
                // The test directory's parents are Bazel's, whose modes
                // are not sshd's business; the key files are the test's.
                "StrictModes no\n"))
            .ok());
    const std::string passwd = absl::StrCat(ssh_dir_, "/passwd_", n);
    ASSERT_NO_FATAL_FAILURE(WritePasswd(hosts_->home(host), passwd));
    auto p = hosts_->Start(
        host,
        {"/bin/sh", "-c",
         "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd "
         "&& mount --bind \"$1\" /etc/passwd && exec \"$2\" -D -e -f \"$3\"",
         "sshd-setup", passwd, kSshd, config},
        "sshd");
    ASSERT_TRUE(p.ok()) << p.status();
    sshd_[host] = std::move(p).value();
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!absl::StrContains(sshd_[host]->Log(), "Server listening on") &&
           sshd_[host]->running() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_TRUE(absl::StrContains(sshd_[host]->Log(), "Server listening on"))
        << "sshd on host " << n << " did not start:\n"
        << sshd_[host]->Log();
  }

  // `shardex token create --role ROLE` on host a, straight into `file`
  // (0600): the token is in no log of the test.
  void CreateToken(const std::string& role, const std::string& file) {
    CliRun run = hosts_->Run(
        kA, {"/bin/sh", "-c",
             "umask 077 && exec \"$1\" token create --role \"$2\" "
             "--state-dir \"$3\" > \"$4\"",
             "token", ShardexBinary(), role, CoordinatorState(), file});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }

  // The script's command line on host a: ACTION, our ssh, then `args`.
  std::vector<std::string> Script(const std::string& action,
                                  const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"/bin/bash", Runfile(kScript), action,
                                     "--ssh", "ssh -F " + ssh_config_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Fails the test if a live process shows the token's secret in its
  // command line or environment.
  void ExpectTokenInNoProcess(const std::string& when) {
    for (const auto& [pid, text] : ProcessTexts()) {
      EXPECT_FALSE(absl::StrContains(text, secret_))
          << "the join token shows in pid " << pid << " " << when << ": "
          << text.substr(0, 200);
    }
  }

  // The pid in the host's pid file (0 if none).
  pid_t WorkerPidOn(int host) {
    int pid = 0;
    (void)absl::SimpleAtoi(
        Trim(ReadFile(hosts_->home(host) + kRemotePidFile).value_or("")), &pid);
    return pid;
  }

  // Processes in `host`'s network namespace whose command line has
  // "shardex worker".
  std::vector<std::string> WorkersRunningOn(int host) {
    const ino_t ns = NetnsOf("/run/netns/" + hosts_->netns(host));
    std::vector<std::string> found;
    for (const auto& [pid, text] : ProcessTexts()) {
      std::string cmdline =
          ReadFile(absl::StrCat("/proc/", pid, "/cmdline")).value_or("");
      for (char& c : cmdline) {
        if (c == '\0') c = ' ';
      }
      if (absl::StrContains(cmdline, "shardex worker") &&
          NetnsOf(absl::StrCat("/proc/", pid, "/ns/net")) == ns) {
        found.push_back(absl::StrCat(pid, " ", cmdline));
      }
    }
    return found;
  }

  std::string ssh_dir_, ssh_config_, token_file_, secret_;
  std::string hosts_file_, hosts_and_unreachable_;
  std::unique_ptr<HostProcess> sshd_[3];
};

TEST_F(SshDeployTest, UpStatusJobUpAgainDownUpgradeOverRealSsh) {
  const std::string b = Target(kB), c = Target(kC);
  const std::string binary = Runfile(kHostBinary);

  // up, the token on stdin, with an unreachable host in the list: b and c
  // come up anyway, the exit status is 1 and the failed host is named.
  // Meanwhile no process may show the token.
  auto up = hosts_->Start(
      kA,
      {"/bin/sh", "-c", "f=$1; shift; exec \"$@\" < \"$f\"", "up", token_file_,
       "/bin/bash", Runfile(kScript), "up", "--ssh", "ssh -F " + ssh_config_,
       "--binary", binary, "--token-file", "-", "--coordinator", Address(),
       hosts_and_unreachable_},
      "shardex-ssh-up");
  ASSERT_TRUE(up.ok()) << up.status();
  int scans = 0;
  while ((*up)->running()) {
    ExpectTokenInNoProcess("during the first up");
    ++scans;
    absl::SleepFor(absl::Milliseconds(5));
  }
  CliRun first = (*up)->Finish(absl::Seconds(60));
  std::cout << "first up (" << scans << " process scans):\n"
            << first.out << first.err;
  EXPECT_EQ(first.exit_code, 1) << first.out << first.err;
  EXPECT_TRUE(
      absl::StrContains(LineFor(first.out, kUnreachable), "FAILED: ssh failed"))
      << first.out;
  EXPECT_TRUE(absl::StrContains(
      first.err, std::string("failed on 1 of 3 hosts: ") + kUnreachable))
      << first.err;
  for (const std::string& t : {b, c}) {
    EXPECT_TRUE(absl::StrContains(LineFor(first.out, t),
                                  "ok: binary copied; joined and started, pid"))
        << first.out;
  }
  const pid_t pid_b = PidFor(first.out, b), pid_c = PidFor(first.out, c);
  ASSERT_NE(pid_b, 0) << first.out;
  ASSERT_NE(pid_c, 0) << first.out;

  // Each host has its own copy, identity, pid file, and its worker runs
  // in its namespace.
  for (auto [h, pid] : {std::pair{kB, pid_b}, std::pair{kC, pid_c}}) {
    const std::string home = hosts_->home(h);
    EXPECT_EQ(ReadFile(home + kRemoteBin).value_or("x"),
              ReadFile(binary).value_or("y"))
        << "host " << hosts_->name(h);
    EXPECT_TRUE(ReadFile(home + kIdentity).ok()) << "host " << hosts_->name(h);
    EXPECT_EQ(WorkerPidOn(h), pid);
    EXPECT_EQ(WorkersRunningOn(h).size(), 1u)
        << absl::StrJoin(WorkersRunningOn(h), "\n");
  }
  WaitForWorkerList("host-b and " + hosts_->ip(kC), [&](const auto& list) {
    bool seen_b = false, seen_c = false;
    for (const v1::WorkerInfo& w : list) {
      seen_b |= w.host() == "host-b";
      seen_c |= w.host() == hosts_->ip(kC);
    }
    return seen_b && seen_c;
  });

  CliRun primes = Cli(kA, "submit", {"primes", "--to", "1e7"});
  EXPECT_EQ(primes.exit_code, 0) << primes.err;
  EXPECT_EQ(Trim(primes.out), "664579");

  // up again: both left alone, same pids, exit 0; the binary is not copied.
  CliRun again = hosts_->Run(
      kA, Script("up", {"--binary", binary, hosts_file_}), absl::Seconds(60));
  std::cout << "up again:\n" << again.out << again.err;
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(PidFor(again.out, b), pid_b) << again.out;
  EXPECT_EQ(PidFor(again.out, c), pid_c) << again.out;
  EXPECT_FALSE(absl::StrContains(again.out, "copied")) << again.out;
  EXPECT_TRUE(absl::StrContains(LineFor(again.out, b), "already running"));

  CliRun status =
      hosts_->Run(kA, Script("status", {hosts_file_}), absl::Seconds(60));
  std::cout << "status:\n" << status.out << status.err;
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_TRUE(absl::StrContains(LineFor(status.out, b),
                                absl::StrCat("ok: running, pid ", pid_b)))
      << status.out;
  EXPECT_TRUE(absl::StrContains(LineFor(status.out, c),
                                absl::StrCat("ok: running, pid ", pid_c)))
      << status.out;

  // The token, while the workers run: in no process, and in no file of
  // the test but its own (the coordinator's state keeps what it needs to
  // check it).
  ExpectTokenInNoProcess("while the workers run");
  std::vector<std::string> leaks =
      FilesContaining(dir_, secret_, {token_file_}, CoordinatorState());
  EXPECT_TRUE(leaks.empty())
      << "the join token is in " << absl::StrJoin(leaks, ", ");

  // down while a job's two shards run (each sleeps 5 s): each worker
  // finishes what it holds before it exits (the drain), so the job still
  // gets its exact answer; nothing of shardex is left on b or c.
  const uint64_t job = SubmitDetached(
      kA, {"--range=0:100", "--shards=2", "--reduce=sum", "--", "sh", "-c",
           "sleep 5; echo $(( ({begin} + {end} - 1) * ({end} - {begin}) / 2 "
           "))"});
  ASSERT_NE(job, 0u);
  WaitForWorkerList("both shards running", [](const auto& list) {
    int running = 0;
    for (const v1::WorkerInfo& w : list) running += w.running();
    return running == 2;
  });
  CliRun down =
      hosts_->Run(kA, Script("down", {hosts_file_}), absl::Seconds(90));
  std::cout << "down with 2 shards running:\n" << down.out << down.err;
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  for (int h : {kB, kC}) {
    EXPECT_TRUE(absl::StrContains(
        LineFor(down.out, Target(h)),
        absl::StrCat("ok: stopped pid ", h == kB ? pid_b : pid_c)))
        << down.out;
    const std::string log = ReadFile(hosts_->home(h) + kRemoteLog).value_or("");
    EXPECT_TRUE(absl::StrContains(log, "signal 15: draining")) << log;
    EXPECT_TRUE(absl::StrContains(
        log, "drained: every shard finished or was handed back"))
        << log;
    EXPECT_TRUE(WorkersRunningOn(h).empty())
        << absl::StrJoin(WorkersRunningOn(h), "\n");
  }
  // What the workers held when they began to drain: the 2 shards.
  int held = 0;
  for (int h : {kB, kC}) {
    const std::string log = ReadFile(hosts_->home(h) + kRemoteLog).value_or("");
    const size_t at = log.find("queued shards; ");
    int n = 0;
    if (at != std::string::npos) {
      (void)absl::SimpleAtoi(
          log.substr(at + 15, log.find(' ', at + 15) - (at + 15)), &n);
    }
    held += n;
    std::cout << "worker log on host " << hosts_->name(h) << ":\n" << log;
  }
  EXPECT_EQ(held, 2) << "running shards at the drain, from the logs";
  CliRun watch = Cli(kA, "watch", {absl::StrCat(job)}, absl::Seconds(30));
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_EQ(Trim(watch.out), "4950") << watch.err;
  WaitForWorkerList("no workers left",
                    [](const auto& list) { return list.empty(); });
  CliRun stopped =
      hosts_->Run(kA, Script("status", {hosts_file_}), absl::Seconds(60));
  EXPECT_EQ(stopped.exit_code, 1) << stopped.out << stopped.err;
  EXPECT_TRUE(absl::StrContains(LineFor(stopped.out, b), "not running"))
      << stopped.out;

  // The upgrade: up with another binary (the same program, one byte
  // longer) and no token. The binary is copied, and the workers start
  // from the identity of their first join.
  const std::string upgraded = dir_ + "/shardex-upgraded";
  ASSERT_TRUE(
      WriteFileAtomically(upgraded, ReadFile(binary).value_or("") + "\n").ok());
  chmod(upgraded.c_str(), 0755);
  CliRun upgrade = hosts_->Run(
      kA,
      Script("up",
             {"--binary", upgraded, "--drain-timeout", "20s", hosts_file_}),
      absl::Seconds(60));
  std::cout << "up with a new binary, no token:\n"
            << upgrade.out << upgrade.err;
  EXPECT_EQ(upgrade.exit_code, 0) << upgrade.out << upgrade.err;
  for (int h : {kB, kC}) {
    const std::string line = LineFor(upgrade.out, Target(h));
    EXPECT_TRUE(absl::StrContains(line, "ok: binary copied; started, pid"))
        << upgrade.out;
    EXPECT_TRUE(absl::StrContains(line, "registered")) << upgrade.out;
    EXPECT_EQ(ReadFile(hosts_->home(h) + kRemoteBin).value_or("x"),
              ReadFile(upgraded).value_or("y"));
  }
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(2));

  // A worker still draining at --timeout (its shard sleeps 60 s, its
  // drain may take 20 s): down fails naming its host, the other stops.
  // down again sends a second SIGTERM, which stops the worker at once.
  ASSERT_NE(
      SubmitDetached(kA, {"--range=0:1", "--shards=1", "--", "sleep", "60"}),
      0u);
  std::string busy;
  WaitForWorkerList("the sleeping shard running", [&](const auto& list) {
    for (const v1::WorkerInfo& w : list) {
      if (w.running() > 0) busy = w.host() == "host-b" ? b : c;
    }
    return !busy.empty();
  });
  ASSERT_FALSE(busy.empty());
  CliRun slow = hosts_->Run(kA, Script("down", {"--timeout", "1", hosts_file_}),
                            absl::Seconds(60));
  std::cout << "down --timeout 1 with a 60 s shard running:\n"
            << slow.out << slow.err;
  EXPECT_EQ(slow.exit_code, 1) << slow.out << slow.err;
  EXPECT_TRUE(absl::StrContains(LineFor(slow.out, busy), "FAILED: pid "))
      << slow.out;
  EXPECT_TRUE(
      absl::StrContains(LineFor(slow.out, busy), "still draining after 1s"))
      << slow.out;
  EXPECT_TRUE(absl::StrContains(slow.err, "failed on 1 of 2 hosts: " + busy))
      << slow.err;
  CliRun last =
      hosts_->Run(kA, Script("down", {hosts_file_}), absl::Seconds(90));
  std::cout << "down again:\n" << last.out << last.err;
  EXPECT_EQ(last.exit_code, 0) << last.out << last.err;
  EXPECT_TRUE(absl::StrContains(LineFor(last.out, busy), "ok: stopped pid"))
      << last.out;
  for (int h : {kB, kC}) {
    const std::string log = ReadFile(hosts_->home(h) + kRemoteLog).value_or("");
    EXPECT_TRUE(absl::StrContains(log, "draining for up to 20s")) << log;
    if (Target(h) == busy) {
      EXPECT_TRUE(absl::StrContains(log, "stopping now")) << log;
    }
    EXPECT_TRUE(WorkersRunningOn(h).empty())
        << absl::StrJoin(WorkersRunningOn(h), "\n");
  }
}

// Bad input: exit 2 and a message that says what to fix; no ssh is run.
TEST(ShardexSshUsageTest, BadInputExitsTwoNamingTheProblem) {
  const std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/usage");
  mkdir(dir.c_str(), 0755);
  ASSERT_TRUE(WriteFileAtomically(dir + "/hosts", "good.example.org\n").ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/bad-hosts", "ok\nuser@host:port-x\n").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/empty", "# none\n\n").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/token", "not-a-token\n").ok());
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "say up, down or status"},
      {{"up"}, "no HOSTS_FILE"},
      {{"status", dir + "/missing"}, "cannot read the hosts file"},
      {{"status", dir + "/bad-hosts"}, "bad-hosts:2: 'user@host:port-x'"},
      {{"status", dir + "/empty"}, "lists no hosts"},
      {{"down", "--frobnicate", dir + "/hosts"}, "unknown option --frobnicate"},
      {{"down", "--timeout", "soon", dir + "/hosts"}, "whole seconds"},
      {{"status", "--binary", "/bin/true", dir + "/hosts"}, "are for up"},
      {{"up", "--binary", dir + "/nothing", dir + "/hosts"},
       "cannot read the binary"},
      {{"up", "--binary", "/bin/true", "--token-file", dir + "/token",
        dir + "/hosts"},
       "needs --coordinator"},
      {{"up", "--binary", "/bin/true", "--token-file", dir + "/token",
        "--coordinator", "h:1", dir + "/hosts"},
       "no join token"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {"/bin/bash", Runfile(kScript)};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Subprocess::Options opts;
    opts.stdout_file = dir + "/out";
    opts.stderr_file = dir + "/err";
    unlink(opts.stdout_file.c_str());
    unlink(opts.stderr_file.c_str());
    auto p = Subprocess::Start(argv, opts);
    ASSERT_TRUE(p.ok()) << p.status();
    CliRun run = CollectCliRun(**p, absl::Seconds(30), opts.stdout_file,
                               opts.stderr_file);
    const std::string args = absl::StrJoin(c.args, " ");
    EXPECT_EQ(run.exit_code, 2) << args << ": " << run.out << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, c.message))
        << args << ": " << run.err;
    EXPECT_FALSE(absl::StrContains(run.err, "not-a-token")) << run.err;
  }
}

}  // namespace
}  // namespace shardex
