#include "deploy/slurm/slurm_bed.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/subprocess.h"

namespace shardex {

namespace {

constexpr char kNsenter[] = "/usr/bin/nsenter";
constexpr char kUnshare[] = "/usr/bin/unshare";
constexpr char kMunged[] = "/usr/sbin/munged";
constexpr char kSlurmctld[] = "/usr/sbin/slurmctld";
constexpr char kSlurmd[] = "/usr/sbin/slurmd";
constexpr char kSinfo[] = "/usr/bin/sinfo";
constexpr int kController = 0;    // host a
constexpr int kNodes[] = {1, 2};  // hosts b and c

// The last lines of a file, or "".
std::string Tail(const std::string& path, int lines) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return "";
  std::vector<std::string> all = absl::StrSplit(*text, '\n');
  const size_t from =
      all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + from, all.end(), "\n");
}

// 1 KiB from /dev/urandom, mode 0600: the munge key of this bed only.
absl::Status WriteMungeKey(const std::string& path) {
  std::ifstream random("/dev/urandom", std::ios::binary);
  std::string key(1024, '\0');
  if (!random.read(key.data(), key.size())) {
    return absl::InternalError("cannot read /dev/urandom");
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return ErrnoError("munge key", path);
  const bool ok =
      write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
  close(fd);
  return ok ? absl::OkStatus() : ErrnoError("munge key", path);
}

// slurmd loads a cgroup plugin even with proctrack/linuxproc and stops if
// it finds none; this is its autodetection (Slurm 22.05, cgroup_common.c).
absl::Status CheckCgroupFilesystem() {
  constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC
  constexpr long kCgroup1Magic = 0x27e0eb;    // CGROUP_SUPER_MAGIC
  constexpr long kTmpfsMagic = 0x01021994;    // TMPFS_MAGIC
  struct statfs fs;
  if (statfs("/sys/fs/cgroup", &fs) == 0) {
    if (static_cast<long>(fs.f_type) == kCgroup2Magic) return absl::OkStatus();
    struct statfs systemd;
    if (static_cast<long>(fs.f_type) == kTmpfsMagic &&
        statfs("/sys/fs/cgroup/systemd", &systemd) == 0 &&
        static_cast<long>(systemd.f_type) == kCgroup1Magic) {
      return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(
      "no cgroup filesystem slurmd can use at /sys/fs/cgroup (cgroup2, or "
      "cgroup v1 with /sys/fs/cgroup/systemd): slurmd would not start");
}

}  // namespace

absl::Status SlurmBed::Available() {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "not root: the Slurm test bed starts slurmd in network namespaces");
  }
  for (const char* tool :
       {kNsenter, kUnshare, kMunged, kSlurmctld, kSlurmd, kSinfo,
        "/usr/bin/sbatch", "/usr/bin/scancel", "/usr/bin/srun"}) {
    if (access(tool, X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("no ", tool,
                       ": install Debian's slurmctld, slurmd, slurm-client "
                       "and munge (scripts/setup.sh does)"));
    }
  }
  if (absl::Status st = CheckCgroupFilesystem(); !st.ok()) return st;
  return NetnsHosts::Available();
}

absl::StatusOr<std::unique_ptr<SlurmBed>> SlurmBed::Start() {
  std::unique_ptr<SlurmBed> bed(new SlurmBed);
  char name[] = "/tmp/sdxslurm-XXXXXX";
  if (mkdtemp(name) == nullptr) return ErrnoError("test bed", name);
  bed->dir_ = name;
  if (absl::Status st = bed->Build(); !st.ok()) {
    const std::string logs = bed->DaemonLogs();
    (void)bed->Destroy();
    return absl::Status(st.code(), absl::StrCat(st.message(), "\n", logs));
  }
  return bed;
}

absl::Status SlurmBed::Build() {
  chmod(dir_.c_str(), 0755);  // munged wants its socket's path searchable
  for (const char* d : {"/munge", "/ctld", "/spool/b", "/spool/c", "/log",
                        "/shared", "/home", "/tmp"}) {
    if (absl::Status st = MakeDirs(dir_ + d, 0755, "test bed"); !st.ok()) {
      return st;
    }
  }
  absl::StatusOr<std::unique_ptr<NetnsHosts>> hosts =
      NetnsHosts::Create(3, dir_ + "/hosts");
  if (!hosts.ok()) return hosts.status();
  hosts_ = std::move(hosts).value();
  if (absl::Status st = WriteConfig(); !st.ok()) return st;
  if (absl::Status st = WriteMungeKey(dir_ + "/munge/munge.key"); !st.ok()) {
    return st;
  }

  // --force: munged refuses a key or socket in a directory others may
  // enter, which /tmp/... is; the key itself is 0600.
  const std::string socket = dir_ + "/munge/munge.socket";
  if (absl::Status st =
          StartDaemon(kController,
                      {kMunged, "--foreground", "--force", "--socket=" + socket,
                       "--key-file=" + dir_ + "/munge/munge.key",
                       "--pid-file=" + dir_ + "/munge/munged.pid",
                       "--seed-file=" + dir_ + "/munge/seed",
                       "--log-file=" + dir_ + "/log/munged.log"},
                      "munged");
      !st.ok()) {
    return st;
  }
  for (int i = 0; i < 100 && access(socket.c_str(), F_OK) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (access(socket.c_str(), F_OK) != 0) {
    return absl::InternalError("munged made no socket in 5 s");
  }
  // -i: no state from an earlier run (there is none: a fresh directory).
  if (absl::Status st =
          StartDaemon(kController, {kSlurmctld, "-D", "-i"}, "slurmctld");
      !st.ok()) {
    return st;
  }
  for (int node : kNodes) {
    if (absl::Status st =
            StartDaemon(node, {kSlurmd, "-D", "-N", hosts_->name(node)},
                        "slurmd-" + hosts_->name(node));
        !st.ok()) {
      return st;
    }
  }
  return WaitForIdleNodes(absl::Seconds(60));
}

absl::Status SlurmBed::WriteConfig() {
  const std::string& d = dir_;
  std::string conf = absl::StrCat(
      "# Generated by deploy/slurm/slurm_bed.cc for one test run.\n"
      "ClusterName=sdxtest\n"
      "SlurmctldHost=a(",
      hosts_->ip(kController), ")\n",
      "SlurmUser=root\n"
      "SlurmdUser=root\n"
      "AuthType=auth/munge\n"
      "CredType=cred/munge\n"
      "AuthInfo=socket=",
      d, "/munge/munge.socket\n", "StateSaveLocation=", d, "/ctld\n",
      "SlurmdSpoolDir=", d, "/spool/%n\n", "SlurmctldPidFile=", d,
      "/ctld/slurmctld.pid\n", "SlurmdPidFile=", d, "/spool/slurmd-%n.pid\n",
      "SlurmctldLogFile=", d, "/log/slurmctld.log\n", "SlurmdLogFile=", d,
      "/log/slurmd-%n.log\n",
      "ProctrackType=proctrack/linuxproc\n"
      "TaskPlugin=task/none\n"
      "SelectType=select/cons_tres\n"
      "SelectTypeParameters=CR_CPU\n"
      "JobAcctGatherType=jobacct_gather/none\n"
      "AccountingStorageType=accounting_storage/none\n"
      "JobCompType=jobcomp/none\n"
      "MpiDefault=none\n"
      "MailProg=/bin/true\n"
      "ReturnToService=2\n"
      "KillWait=10\n");
  for (int node : kNodes) {
    absl::StrAppend(&conf, "NodeName=", hosts_->name(node),
                    " NodeAddr=", hosts_->ip(node), " CPUs=2 State=UNKNOWN\n");
  }
  absl::StrAppend(&conf, "PartitionName=test Nodes=", hosts_->name(kNodes[0]),
                  ",", hosts_->name(kNodes[1]),
                  " Default=YES MaxTime=INFINITE State=UP\n");
  return WriteFileAtomically(dir_ + "/slurm.conf", conf);
}

std::string SlurmBed::tag() const {
  return absl::StrCat("SHARDEX_TEST_CLUSTER=", dir_);
}

std::vector<std::string> SlurmBed::OnHost(
    int host, const std::vector<std::string>& argv,
    const std::vector<std::string>& env) const {
  std::vector<std::string> wrapped = {kNsenter,
                                      "--net=/run/netns/" + hosts_->netns(host),
                                      kUnshare,
                                      "--uts",
                                      "/bin/sh",
                                      "-c",
                                      "hostname \"$0\" && exec \"$@\"",
                                      hosts_->name(host),
                                      "/usr/bin/env",
                                      "SLURM_CONF=" + dir_ + "/slurm.conf",
                                      "HOME=" + dir_ + "/home",
                                      "TMPDIR=" + dir_ + "/tmp",
                                      tag()};
  wrapped.insert(wrapped.end(), env.begin(), env.end());
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

absl::Status SlurmBed::StartDaemon(int host,
                                   const std::vector<std::string>& argv,
                                   const std::string& label) {
  Subprocess::Options opts;
  opts.stdout_file = dir_ + "/log/" + label + ".out";
  opts.stderr_file = opts.stdout_file;
  auto p = Subprocess::Start(OnHost(host, argv, {}), opts);
  if (!p.ok()) return p.status();
  daemons_.push_back(std::make_unique<HostProcess>(
      std::move(p).value(), opts.stdout_file, opts.stderr_file));
  return absl::OkStatus();
}

CliRun SlurmBed::OnController(const std::vector<std::string>& argv,
                              const std::vector<std::string>& env,
                              absl::Duration timeout) {
  static int runs = 0;
  Subprocess::Options opts;
  const std::string base = absl::StrCat(dir_, "/log/run-", runs++);
  opts.stdout_file = base + ".out";
  opts.stderr_file = base + ".err";
  auto p = Subprocess::Start(OnHost(kController, argv, env), opts);
  if (!p.ok()) {
    CliRun run;
    run.err = std::string(p.status().message());
    return run;
  }
  return HostProcess(std::move(p).value(), opts.stdout_file, opts.stderr_file)
      .Finish(timeout);
}

absl::Status SlurmBed::WaitForIdleNodes(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (absl::Now() < deadline) {
    for (auto& d : daemons_) {
      if (!d->running()) {
        return absl::InternalError(
            absl::StrCat("a Slurm daemon exited at start:\n", d->Log()));
      }
    }
    CliRun run = OnController({kSinfo, "-h", "-N", "-o", "%N %T"}, {},
                              absl::Seconds(10));
    last = run.out + run.err;
    if (run.exit_code == 0 && absl::StrContains(run.out, "b idle") &&
        absl::StrContains(run.out, "c idle")) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(300));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the Slurm nodes were not idle within ",
                   absl::FormatDuration(timeout), "; sinfo said: ", last));
}

std::string SlurmBed::DaemonLogs() const {
  std::string out;
  for (const char* log :
       {"slurmctld.log", "slurmd-b.log", "slurmd-c.log", "munged.out"}) {
    absl::StrAppend(&out, "--- ", log, " (last lines)\n",
                    Tail(dir_ + "/log/" + log, 15), "\n");
  }
  return out;
}

SlurmBed::~SlurmBed() { (void)Destroy(); }

absl::Status SlurmBed::Destroy() {
  if (destroyed_) return absl::OkStatus();
  destroyed_ = true;
  // The hosts' Destroy kills every process in the namespaces (daemons,
  // slurmstepd and whatever a job left) and every process carrying the tag.
  absl::Status hosts = hosts_ != nullptr ? hosts_->Destroy() : absl::OkStatus();
  for (auto& d : daemons_) d->Kill();  // reaps them
  daemons_.clear();
  absl::Status removed = dir_.empty() ? absl::OkStatus() : RemoveTree(dir_);
  return hosts.ok() ? removed : hosts;
}

}  // namespace shardex
