// Staging (issue 11, docs/staging.md): jobs on machines that share nothing
// but the network. A coordinator on host a, workers on hosts b and c, jobs
// submitted from host d (a fourth host, neither coordinator nor worker), each
// host a network namespace with its own address and host-local directory
// (tests/netns_hosts.h). Every data file is written only in the submitting
// host's local_dir(): no other host can open it, so a job can only work if
// the CLI staged it through the coordinator's store.
//
// Every test ends with an exact answer: word counts and grep lines against
// coreutils run on the submitting host, sums computed here, files compared
// byte for byte; and the store's own account (Store.StatBlobs: stored,
// received_bytes, served_bytes, uploads) checked where the contract says
// something is uploaded or fetched once. The faults: the submitting CLI
// killed with SIGKILL mid-upload (its host's egress slowed with a `tc tbf`
// qdisc inside its namespace, so the upload is surely in progress), a worker
// host's worker killed mid-fetch (the coordinator's egress slowed the same
// way), the coordinator killed and restarted mid-job.
//
// StatBlobs is called from inside host a by this same binary run as a helper
// (`staging_test --staging-test-stat-blobs ...`, see main() below): the test
// process itself lives in the root namespace, which has no route to the
// hosts.
//
// Without root, `ip`, `unshare` or the right to make namespaces, every test
// is skipped with the reason.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/channel.h"
#include "common/file_util.h"
#include "common/tls.h"
#include "common/token.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "proto/shardex.grpc.pb.h"
#include "proto/shardex.pb.h"
#include "tests/netns_hosts.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

constexpr int kA = 0;  // the coordinator's host (no worker)
constexpr int kB = 1;  // a worker
constexpr int kC = 2;  // a worker
constexpr int kD = 3;  // submits; no worker, no coordinator
constexpr int kPort = 7473;

// argv[1] of this binary run as the StatBlobs helper.
constexpr char kStatBlobsFlag[] = "--staging-test-stat-blobs";

constexpr uint64_t kMiB = 1 << 20;

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

template <typename Message>
absl::StatusOr<Message> FromJson(const std::string& json) {
  Message m;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON of ", Message::descriptor()->name(), ": ",
                     st.ToString(), ": ", json));
  }
  return m;
}

// `sh -c cmd` in the test's own namespace; its stdout.
std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

std::string Tc() {
  for (const char* p : {"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "tc";
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Lower-case hex SHA-256 of a file the test can reach, by `sha256sum`.
std::string Sha256Of(const std::string& path) {
  return Shell("sha256sum '" + path + "' | cut -c1-64").substr(0, 64);
}

// Writes about `bytes` bytes of text: lines of 1 to 12 words from a
// 5003-word vocabulary ("w0" ... "w5002", and now and then "needle7"),
// separated by a space or a tab. Deterministic from `seed`. Returns the
// number of lines.
uint64_t WriteText(const std::string& path, uint64_t bytes, uint32_t seed) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return 0;
  uint64_t x = seed * 2654435761u + 1;
  auto next = [&x]() {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(x >> 33);
  };
  std::string buf;
  uint64_t written = 0, lines = 0;
  while (written + buf.size() < bytes) {
    const int words = 1 + next() % 12;
    for (int i = 0; i < words; ++i) {
      if (i > 0) buf.push_back(next() % 5 == 0 ? '\t' : ' ');
      const uint32_t r = next();
      if (r % 211 == 0) {
        buf += "needle7";
      } else {
        absl::StrAppend(&buf, "w", r % 5003);
      }
    }
    buf.push_back('\n');
    ++lines;
    if (buf.size() >= kMiB) {
      fwrite(buf.data(), 1, buf.size(), f);
      written += buf.size();
      buf.clear();
    }
  }
  fwrite(buf.data(), 1, buf.size(), f);
  fclose(f);
  return lines;
}

// What a `shardex: staged N files (X bytes): U uploaded, S already stored`
// line on stderr says.
struct StagedLine {
  bool found = false;
  uint64_t files = 0, bytes = 0, uploaded = 0, stored = 0;
};
StagedLine ParseStagedLine(const std::string& err) {
  static const std::regex re(
      "shardex: staged ([0-9]+) files? \\(([0-9]+) bytes\\): ([0-9]+) "
      "uploaded, ([0-9]+) already stored");
  std::smatch m;
  StagedLine s;
  if (!std::regex_search(err, m, re)) return s;
  s.found = true;
  (void)absl::SimpleAtoi(m[1].str(), &s.files);
  (void)absl::SimpleAtoi(m[2].str(), &s.bytes);
  (void)absl::SimpleAtoi(m[3].str(), &s.uploaded);
  (void)absl::SimpleAtoi(m[4].str(), &s.stored);
  return s;
}

// The output files of a directory (no dot files), sorted by name.
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class StagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status st = NetnsHosts::Available(); !st.ok()) {
      GTEST_SKIP() << "no hosts from network namespaces here: "
                   << st.message();
    }
    dir_ = absl::StrCat(
        getenv("TEST_TMPDIR"), "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mkdir(dir_.c_str(), 0755);
    auto hosts = NetnsHosts::Create(4, dir_);
    ASSERT_TRUE(hosts.ok()) << hosts.status();
    hosts_ = std::move(hosts).value();
    ASSERT_NO_FATAL_FAILURE(MakeCertificates(dir_ + "/pki"));
    ASSERT_NO_FATAL_FAILURE(StartCoordinator());
    for (int h : {kB, kC}) ASSERT_NO_FATAL_FAILURE(StartWorker(h));
    ASSERT_NO_FATAL_FAILURE(WaitForWorkers(2));
  }

  void TearDown() override {
    if (hosts_ == nullptr) return;
    // Undo any shaping first (the namespaces go anyway; this is tidiness).
    for (int h : shaped_) (void)Unshape(h);
    if (HasFailure()) {
      if (coordinator_ != nullptr) {
        std::cerr << "--- coordinator (host a)\n" << coordinator_->Log() << "\n";
      }
      for (size_t h = 0; h < workers_.size(); ++h) {
        if (workers_[h] == nullptr) continue;
        std::cerr << "--- worker on host " << hosts_->name(h) << "\n"
                  << workers_[h]->Log() << "\n";
      }
    }
    workers_.clear();  // kill -9 and reap
    coordinator_.reset();
    std::vector<std::string> bulky = big_files_;
    bulky.push_back(CoordinatorState() + "/store");
    for (int h = 0; h < hosts_->size(); ++h) {
      bulky.push_back(hosts_->local_backing_dir(h) + "/scratch");
    }
    absl::Status leaks = hosts_->Destroy();
    EXPECT_TRUE(leaks.ok()) << leaks;
    hosts_.reset();
    // The data files, the store and the caches: up to a few hundred MiB.
    // Logs stay when the test failed; everything goes when it passed.
    if (HasFailure()) {
      for (const std::string& path : bulky) {
        Shell("rm -rf --one-file-system '" + path + "'");
      }
    } else {
      Shell("rm -rf --one-file-system '" + dir_ + "'");
    }
  }

  // ---- hosts, certificates, processes (as tests/multihost_test.cc)

  void MakeCertificates(const std::string& pki) {
    mkdir(pki.c_str(), 0700);
    std::string script = absl::StrCat(
        "set -e; cd ", pki, "; ",
        "printf 'subjectAltName=IP:", hosts_->ip(kA),
        ",DNS:host-a\\n' > server.ext; "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=shardex-test-ca "
        "2>/dev/null; "
        "for n in server a b c d; do "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout $n.key -out $n.csr -subj /CN=host-$n 2>/dev/null; "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out $n.pem -days 1 "
        "$( [ $n = server ] && echo -extfile server.ext ) 2>/dev/null; done");
    for (int h = 0; h < hosts_->size(); ++h) {
      const std::string& n = hosts_->name(h);
      const std::string d = Config(h);
      absl::StrAppend(&script, "; mkdir -p -m 700 ", d, "; cp ca.pem ", d,
                      "/ca.pem; cp ", n, ".pem ", d, "/client.pem; cp ", n,
                      ".key ", d, "/client.key");
    }
    absl::StrAppend(&script, "; cp server.pem server.key ", Config(kA));
    ASSERT_EQ(system(script.c_str()), 0) << "openssl failed: " << script;
  }

  std::string Config(int host) const {
    return hosts_->home(host) + "/.shardex";
  }
  std::string Address() const {
    return absl::StrCat(hosts_->ip(kA), ":", kPort);
  }
  std::vector<std::string> AccessFlags(int host) const {
    const std::string d = Config(host);
    return {"--coordinator=" + Address(), "--token-file=" + d + "/token",
            "--tls-ca=" + d + "/ca.pem", "--tls-cert=" + d + "/client.pem",
            "--tls-key=" + d + "/client.key"};
  }
  std::string CoordinatorState() const {
    return hosts_->state_dir(kA) + "/coordinator";
  }
  std::string PortFile() const { return hosts_->state_dir(kA) + "/port"; }

  // Starts the coordinator on host a with `coordinator_flags_` added, and
  // waits for its port file. With `retry`, a coordinator that exits at once
  // (its port not free yet after a kill) is started again, for up to 30 s.
  void StartCoordinator(bool retry = false) {
    const std::string d = Config(kA);
    std::vector<std::string> argv = {ShardexBinary(),
                                     "coordinator",
                                     "--listen=" + Address(),
                                     "--state-dir=" + CoordinatorState(),
                                     "--port-file=" + PortFile(),
                                     "--tls-cert=" + d + "/server.pem",
                                     "--tls-key=" + d + "/server.key",
                                     "--tls-ca=" + d + "/ca.pem",
                                     "--allow-commands",
                                     "--heartbeat-timeout=3s"};
    argv.insert(argv.end(), coordinator_flags_.begin(),
                coordinator_flags_.end());
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      unlink(PortFile().c_str());
      auto p = hosts_->Start(kA, argv, "coordinator");
      ASSERT_TRUE(p.ok()) << p.status();
      coordinator_ = std::move(p).value();
      while (ReadFile(PortFile()).value_or("").empty() &&
             coordinator_->running() && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (!ReadFile(PortFile()).value_or("").empty()) break;
      ASSERT_TRUE(retry && absl::Now() < deadline)
          << "the coordinator did not start:\n"
          << coordinator_->Log();
      absl::SleepFor(absl::Milliseconds(500));
    }
    auto token = ReadFile(CoordinatorState() + "/token");
    ASSERT_TRUE(token.ok()) << token.status();
    for (int h = 0; h < hosts_->size(); ++h) {
      const std::string copy = Config(h) + "/token";
      ASSERT_TRUE(WriteFileAtomically(copy, *token).ok());
      chmod(copy.c_str(), 0600);
    }
  }

  // A worker on `host` with 1 thread and 2 process slots, its scratch
  // directory (and so its blob cache) in the host-local directory.
  void StartWorker(int host) {
    mkdir((hosts_->local_backing_dir(host) + "/scratch").c_str(), 0755);
    std::vector<std::string> argv = {ShardexBinary(), "worker"};
    for (const std::string& f : AccessFlags(host)) argv.push_back(f);
    argv.insert(argv.end(), {"--name=host-" + hosts_->name(host),
                             "--threads=1", "--processes=2",
                             "--scratch-dir=" + hosts_->local_dir() +
                                 "/scratch"});
    auto p = hosts_->Start(host, argv, "worker");
    ASSERT_TRUE(p.ok()) << p.status();
    if (workers_.size() <= static_cast<size_t>(host)) workers_.resize(host + 1);
    workers_[host] = std::move(p).value();
  }

  std::vector<std::string> CliArgv(int host, const std::string& command,
                                   const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {ShardexBinary(), command};
    for (const std::string& f : AccessFlags(host)) argv.push_back(f);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CliRun Cli(int host, const std::string& command,
             const std::vector<std::string>& args,
             absl::Duration timeout = absl::Seconds(120)) {
    return hosts_->Run(host, CliArgv(host, command, args), timeout);
  }
  std::unique_ptr<HostProcess> StartCli(int host, const std::string& command,
                                        const std::vector<std::string>& args) {
    auto p = hosts_->Start(host, CliArgv(host, command, args), command);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  // `sh -c cmd` on `host`; fails the test unless it exits 0. Its stdout.
  std::string HostShell(int host, const std::string& cmd,
                        absl::Duration timeout = absl::Seconds(120)) {
    CliRun run = hosts_->Run(host, {"/bin/sh", "-c", cmd}, timeout);
    EXPECT_EQ(run.exit_code, 0) << "on host " << hosts_->name(host) << ": "
                                << cmd << ": " << run.err;
    return run.out;
  }

  // ---- files on the submitting host

  // `name` in the host-local directory: the path every host uses, and the
  // path the test reaches host `host`'s copy by.
  std::string Local(const std::string& name) const {
    return hosts_->local_dir() + "/" + name;
  }
  std::string Backing(int host, const std::string& name) const {
    return hosts_->local_backing_dir(host) + "/" + name;
  }

  // Writes text (WriteText) into host `host`'s local directory only, and
  // checks that the hosts that must fetch it cannot see it. Its line count.
  uint64_t WriteLocalText(int host, const std::string& name, uint64_t bytes,
                          uint32_t seed) {
    const uint64_t lines = WriteText(Backing(host, name), bytes, seed);
    EXPECT_GT(lines, 0u);
    if (bytes > 8 * kMiB) big_files_.push_back(Backing(host, name));
    for (int other = 0; other < hosts_->size(); ++other) {
      if (other == host) continue;
      CliRun run = hosts_->Run(other, {"/bin/sh", "-c", "test -e " + Local(name)});
      EXPECT_NE(run.exit_code, 0) << Local(name) << " is visible on host "
                                  << hosts_->name(other);
    }
    return lines;
  }

  // `wordcount`'s exact answer for `path` on `host`, from coreutils there:
  // the words as `tr -s '[:space:]' '\n'` cuts them, counted, sorted by word
  // in byte order ("<count> <word>" lines, newline-terminated as the CLI
  // prints the result).
  std::string ExpectedWordcount(int host, const std::string& path) {
    return HostShell(
        host, "LC_ALL=C tr -s '[:space:]' '\\n' < " + path +
                  " | LC_ALL=C grep -v '^$' | LC_ALL=C awk '{ c[$0]++ } "
                  "END { for (w in c) print c[w] \" \" w }' | "
                  "LC_ALL=C sort -t ' ' -k2,2");
  }

  // ---- the store, seen from host a

  // StatBlobs for one blob, asked by this binary run as a helper on host a.
  absl::StatusOr<v1::BlobStat> StatBlob(const std::string& sha256) {
    const std::string d = Config(kA);
    CliRun run = hosts_->Run(
        kA,
        {SelfExe(), kStatBlobsFlag, Address(), d + "/token", d + "/ca.pem",
         d + "/client.pem", d + "/client.key", sha256},
        absl::Seconds(30));
    if (run.exit_code != 0) {
      return absl::UnavailableError(
          absl::StrCat("StatBlobs helper: exit ", run.exit_code, ": ", run.err));
    }
    auto response = FromJson<v1::StatBlobsResponse>(run.out);
    if (!response.ok()) return response.status();
    if (response->blobs_size() != 1) {
      return absl::InternalError(
          absl::StrCat("StatBlobs answered ", response->blobs_size(),
                       " blobs for 1: ", run.out));
    }
    return response->blobs(0);
  }

  // Polls StatBlob until `pred` holds; fails the test otherwise. The last
  // stat seen.
  v1::BlobStat WaitForBlob(const std::string& what, const std::string& sha,
                           const std::function<bool(const v1::BlobStat&)>& pred,
                           absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::StatusOr<v1::BlobStat> last;
    do {
      last = StatBlob(sha);
      if (last.ok() && pred(*last)) return *last;
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < deadline);
    ADD_FAILURE() << "never: " << what << "; last StatBlobs: "
                  << (last.ok() ? last->DebugString()
                                : std::string(last.status().message()));
    return last.ok() ? *last : v1::BlobStat();
  }

  // ---- jobs and workers, asked from host a

  absl::StatusOr<std::vector<v1::WorkerInfo>> Workers() {
    CliRun run = Cli(kA, "workers", {"--json"}, absl::Seconds(30));
    if (run.exit_code != 0) {
      return absl::UnavailableError(absl::StrCat("workers: ", run.err));
    }
    auto list = FromJson<v1::ListWorkersResponse>(run.out);
    if (!list.ok()) return list.status();
    return std::vector<v1::WorkerInfo>(list->workers().begin(),
                                       list->workers().end());
  }
  static const v1::WorkerInfo* Find(const std::vector<v1::WorkerInfo>& list,
                                    int host) {
    const std::string name = std::string("host-") + char('a' + host);
    for (const v1::WorkerInfo& w : list) {
      if (w.host() == name) return &w;
    }
    return nullptr;
  }
  void WaitForWorkerList(
      const std::string& what,
      const std::function<bool(const std::vector<v1::WorkerInfo>&)>& pred,
      absl::Duration timeout = absl::Seconds(45)) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::StatusOr<std::vector<v1::WorkerInfo>> last;
    do {
      last = Workers();
      if (last.ok() && pred(*last)) return;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < deadline);
    ADD_FAILURE() << "never: " << what << "; last list: "
                  << (last.ok() ? absl::StrCat(last->size(), " workers")
                                : std::string(last.status().message()));
  }
  void WaitForWorkers(size_t n) {
    WaitForWorkerList(absl::StrCat(n, " workers registered"),
                      [n](const auto& list) { return list.size() >= n; });
  }

  absl::StatusOr<std::vector<v1::JobStatus>> Jobs() {
    CliRun run = Cli(kA, "jobs", {"--json"}, absl::Seconds(30));
    if (run.exit_code != 0) {
      return absl::UnavailableError(absl::StrCat("jobs: ", run.err));
    }
    auto list = FromJson<v1::ListJobsResponse>(run.out);
    if (!list.ok()) return list.status();
    return std::vector<v1::JobStatus>(list->jobs().begin(), list->jobs().end());
  }
  void ExpectJobCount(size_t n, const std::string& why) {
    auto jobs = Jobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    EXPECT_EQ(jobs->size(), n) << why;
  }

  // `submit --detach ARGS` from `host`; the job's id (0 and a failure if
  // none).
  uint64_t SubmitDetached(int host, const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--detach"};
    all.insert(all.end(), args.begin(), args.end());
    CliRun run = Cli(host, "submit", all);
    uint64_t id = 0;
    EXPECT_TRUE(run.exit_code == 0 && absl::SimpleAtoi(Trim(run.out), &id))
        << run.exit_code << " " << run.out << run.err;
    return id;
  }

  // ---- slowing a host's outgoing traffic (inside its namespace only)

  // A token bucket on the host's eth0: what it sends leaves at `rate`
  // ("64mbit"), so a transfer of tens of MiB surely takes seconds.
  void Shape(int host, const std::string& rate) {
    CliRun run = hosts_->Run(host, {Tc(), "qdisc", "add", "dev", "eth0", "root",
                                    "tbf", "rate", rate, "burst", "64kb",
                                    "latency", "400ms"},
                             absl::Seconds(30));
    ASSERT_EQ(run.exit_code, 0)
        << "cannot slow host " << hosts_->name(host)
        << "'s eth0 with tc tbf (iproute2's tc and sch_tbf needed): "
        << run.err;
    shaped_.push_back(host);
  }
  absl::Status Unshape(int host) {
    CliRun run = hosts_->Run(host, {Tc(), "qdisc", "del", "dev", "eth0", "root"},
                             absl::Seconds(30));
    shaped_.erase(std::remove(shaped_.begin(), shaped_.end(), host),
                  shaped_.end());
    if (run.exit_code == 0) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("tc qdisc del: ", run.err));
  }

  std::vector<std::string> coordinator_flags_;  // set before SetUp
  std::string dir_;
  std::unique_ptr<NetnsHosts> hosts_;
  std::unique_ptr<HostProcess> coordinator_;
  std::vector<std::unique_ptr<HostProcess>> workers_;  // by host
  std::vector<int> shaped_;
  std::vector<std::string> big_files_;
};

// ------------------------------------------------------------ kernels

TEST_F(StagingTest, WordcountAndGrepOfAFileOnlyTheSubmittingHostHas) {
  const std::string path = Local("words.txt");
  WriteLocalText(kD, "words.txt", 3 * kMiB, 11);
  const uint64_t size = FileSize(Backing(kD, "words.txt"));
  const std::string sha = Sha256Of(Backing(kD, "words.txt"));
  const std::string expected = ExpectedWordcount(kD, path);
  ASSERT_FALSE(expected.empty());

  CliRun wc = Cli(kD, "submit", {"--shards=7", "wordcount", path});
  ASSERT_EQ(wc.exit_code, 0) << wc.err;
  EXPECT_TRUE(wc.out == expected)
      << "wordcount differs from coreutils on host d: " << wc.out.size()
      << " vs " << expected.size() << " bytes; first of each:\n"
      << wc.out.substr(0, 200) << "\n---\n" << expected.substr(0, 200);
  StagedLine staged = ParseStagedLine(wc.err);
  ASSERT_TRUE(staged.found) << "no 'shardex: staged ...' line: " << wc.err;
  EXPECT_EQ(staged.files, 1u) << wc.err;
  EXPECT_EQ(staged.bytes, size) << wc.err;
  EXPECT_EQ(staged.uploaded, 1u) << wc.err;
  EXPECT_EQ(staged.stored, 0u) << wc.err;

  // grep, lines and counts, against grep on host d.
  const std::string pattern = "needle7|w4(2|3)1[0-9]";
  CliRun lines = Cli(kD, "submit", {"--shards=5", "grep", pattern, path});
  ASSERT_EQ(lines.exit_code, 0) << lines.err;
  const std::string grep_lines =
      HostShell(kD, "LC_ALL=C grep -E '" + pattern + "' " + path);
  ASSERT_FALSE(grep_lines.empty());
  EXPECT_TRUE(lines.out == grep_lines)
      << lines.out.size() << " vs " << grep_lines.size() << " bytes";

  CliRun count =
      Cli(kD, "submit", {"--shards=3", "grep", "--count", "needle7", path});
  ASSERT_EQ(count.exit_code, 0) << count.err;
  const std::string grep_count =
      Trim(HostShell(kD, "LC_ALL=C grep -c needle7 " + path));
  EXPECT_NE(grep_count, "0");
  EXPECT_EQ(Trim(count.out), grep_count);

  // The coordinator holds the file once, complete.
  auto stat = StatBlob(sha);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(stat->stored());
  EXPECT_EQ(stat->size(), size);
  EXPECT_EQ(stat->uploads(), 1u);
  EXPECT_GE(stat->served_bytes(), size) << "every byte was read by a worker";
}

TEST_F(StagingTest, LinesWithReduceSumOverAFileOnlyTheSubmittingHostHas) {
  const std::string name = "numbers.txt";
  std::string text;
  uint64_t sum = 0;
  for (uint64_t i = 1; text.size() < 2 * kMiB; ++i) {
    const uint64_t v = i * 7919 % 1000003;
    absl::StrAppend(&text, v, "\n");
    sum += v;
  }
  ASSERT_TRUE(WriteFileAtomically(Backing(kD, name), text).ok());
  CliRun hidden = hosts_->Run(kB, {"/bin/sh", "-c", "test -e " + Local(name)});
  ASSERT_NE(hidden.exit_code, 0) << "host b sees host d's file";

  CliRun run = Cli(kD, "submit",
                   {"--lines", Local(name), "--shards", "9", "--reduce", "sum",
                    "--", "awk", "{ s += $1 } END { printf \"%.0f\\n\", s }"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), absl::StrCat(sum));
  EXPECT_TRUE(ParseStagedLine(run.err).found) << run.err;

  // cat of every part, in order, is the file itself.
  CliRun cat = Cli(kD, "submit",
                   {"--lines", Local(name), "--shards", "9", "--", "cat"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == text) << "cat of the parts differs from the file ("
                               << cat.out.size() << " vs " << text.size()
                               << " bytes)";
  StagedLine again = ParseStagedLine(cat.err);
  EXPECT_TRUE(again.found && again.uploaded == 0 && again.stored == 1)
      << cat.err;
}

TEST_F(StagingTest, InputsGlobOverADirectoryOfTheSubmittingHost) {
  mkdir(Backing(kD, "in").c_str(), 0755);
  std::string all;
  uint64_t lines = 0;
  for (int i = 0; i < 6; ++i) {
    std::string text;
    for (int j = 0; j < 100 * (i + 1) + i; ++j) {
      absl::StrAppend(&text, "file ", i, " line ", j, "\n");
    }
    lines += 100 * (i + 1) + i;
    all += text;
    ASSERT_TRUE(
        WriteFileAtomically(Backing(kD, absl::StrCat("in/part-", i, ".txt")), text)
            .ok());
  }
  // Not an input: the glob must not match it.
  ASSERT_TRUE(WriteFileAtomically(Backing(kD, "in/skip.log"), "x\n").ok());
  const std::string glob = Local("in") + "/*.txt";

  CliRun count = Cli(kD, "submit",
                     {"--inputs", glob, "--reduce", "sum", "--", "sh", "-c",
                      "wc -l < {input}"});
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(Trim(count.out), absl::StrCat(lines));
  StagedLine staged = ParseStagedLine(count.err);
  ASSERT_TRUE(staged.found) << count.err;
  EXPECT_EQ(staged.files, 6u) << count.err;
  EXPECT_EQ(staged.uploaded, 6u) << count.err;

  // One shard per file, in the glob's (sorted) order: the concatenation.
  CliRun cat = Cli(kD, "submit", {"--inputs", glob, "--", "cat", "{input}"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == all) << cat.out.size() << " vs " << all.size()
                              << " bytes:\n" << cat.out.substr(0, 300);
  StagedLine again = ParseStagedLine(cat.err);
  EXPECT_TRUE(again.found && again.uploaded == 0 && again.stored == 6)
      << cat.err;
}

// ------------------------------------------------------------ --upload

TEST_F(StagingTest, UploadedScriptsRunInEachShardsWorkingDirectory) {
  // A directory: a script that reads a data file beside it.
  mkdir(Backing(kD, "tools").c_str(), 0755);
  mkdir(Backing(kD, "tools/data").c_str(), 0755);
  ASSERT_TRUE(WriteFileAtomically(
                  Backing(kD, "tools/prog.sh"),
                  "#!/bin/sh\n"
                  "k=$(cat \"$(dirname \"$0\")/data/factor.txt\")\n"
                  "echo \"shard $1 times $k is $(( $1 * k ))\"\n")
                  .ok());
  chmod(Backing(kD, "tools/prog.sh").c_str(), 0755);
  ASSERT_TRUE(
      WriteFileAtomically(Backing(kD, "tools/data/factor.txt"), "7\n").ok());
  CliRun dir = Cli(kD, "submit",
                   {"--upload", Local("tools"), "--shards", "4", "--",
                    "./tools/prog.sh", "{shard}"});
  ASSERT_EQ(dir.exit_code, 0) << dir.err;
  EXPECT_EQ(dir.out,
            "shard 0 times 7 is 0\nshard 1 times 7 is 7\n"
            "shard 2 times 7 is 14\nshard 3 times 7 is 21\n");
  StagedLine staged = ParseStagedLine(dir.err);
  ASSERT_TRUE(staged.found) << dir.err;
  EXPECT_EQ(staged.files, 2u) << dir.err;

  // A single file, run by its name in the working directory (exec bit kept:
  // it is exec'd directly, no shell).
  ASSERT_TRUE(WriteFileAtomically(Backing(kD, "prog.sh"),
                                  "#!/bin/sh\necho \"single $1\"\n"
                                  "[ -x ./prog.sh ] && echo exec-bit-kept\n")
                  .ok());
  chmod(Backing(kD, "prog.sh").c_str(), 0755);
  CliRun file = Cli(kD, "submit",
                    {"--upload", Local("prog.sh"), "--shards", "3", "--",
                     "./prog.sh", "{shard}"});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out,
            "single 0\nexec-bit-kept\nsingle 1\nexec-bit-kept\n"
            "single 2\nexec-bit-kept\n");
}

TEST_F(StagingTest, SymlinkOutOfAnUploadDirectoryIsRefused) {
  mkdir(Backing(kD, "up").c_str(), 0755);
  ASSERT_TRUE(
      WriteFileAtomically(Backing(kD, "up/run.sh"), "#!/bin/sh\necho ok\n").ok());
  chmod(Backing(kD, "up/run.sh").c_str(), 0755);
  const std::vector<std::string> args = {"--upload", Local("up"), "--shards",
                                         "1", "--", "./up/run.sh"};

  ASSERT_EQ(symlink("/etc/passwd", Backing(kD, "up/escape-abs").c_str()), 0);
  CliRun abs = Cli(kD, "submit", args);
  EXPECT_NE(abs.exit_code, 0) << abs.out << abs.err;
  EXPECT_NE(abs.exit_code, -1) << "timed out: " << abs.err;
  EXPECT_NE(abs.err.find("escape-abs"), std::string::npos)
      << "the error does not name the link: " << abs.err;
  EXPECT_EQ(abs.out.find("root:"), std::string::npos) << abs.out;
  unlink(Backing(kD, "up/escape-abs").c_str());

  ASSERT_TRUE(WriteFileAtomically(Backing(kD, "outside.txt"), "secret\n").ok());
  ASSERT_EQ(symlink("../outside.txt", Backing(kD, "up/escape-rel").c_str()), 0);
  CliRun rel = Cli(kD, "submit", args);
  EXPECT_NE(rel.exit_code, 0) << rel.out << rel.err;
  EXPECT_NE(rel.exit_code, -1) << "timed out: " << rel.err;
  EXPECT_NE(rel.err.find("escape-rel"), std::string::npos)
      << "the error does not name the link: " << rel.err;
  unlink(Backing(kD, "up/escape-rel").c_str());

  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(0, "a refused upload submits nothing"));

  // Without the links the same submit runs: the refusals were the links'.
  CliRun ok = Cli(kD, "submit", args);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
}

// ------------------------------------------------------------ outputs

TEST_F(StagingTest, OutputDirectoryIsWrittenOnTheSubmittingHost) {
  const std::string out = Local("out");
  CliRun run = Cli(kD, "submit",
                   {"--json", "--shards", "4", "--output", out, "--", "echo",
                    "part", "{shard}"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto job = FromJson<v1::JobStatus>(run.out);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_NE(job->job_id(), 0u);
  const std::string result = "part 0\npart 1\npart 2\npart 3\n";
  EXPECT_EQ(job->result().value(), result);

  const std::vector<std::string> names = {"_SUCCESS", "part-00000",
                                          "part-00001", "part-00002",
                                          "part-00003", "result"};
  auto expect_outputs = [&](const std::string& dir) {
    EXPECT_EQ(ListDir(dir), names) << dir;
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(ReadFile(absl::StrFormat("%s/part-%05d", dir, i)).value_or("?"),
                absl::StrCat("part ", i, "\n"))
          << dir;
    }
    EXPECT_EQ(ReadFile(dir + "/result").value_or("?"), result) << dir;
    EXPECT_EQ(ReadFile(dir + "/_SUCCESS").value_or("?"), "") << dir;
  };
  expect_outputs(Backing(kD, "out"));
  // Not on the coordinator's host, nor on the workers'.
  for (int h : {kA, kB, kC}) {
    EXPECT_FALSE(Exists(Backing(h, "out")))
        << "an output directory on host " << hosts_->name(h);
  }

  // `shardex fetch` gets the same files again, on the submitting host.
  CliRun fetch =
      Cli(kD, "fetch", {absl::StrCat(job->job_id()), Local("again")});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.err;
  expect_outputs(Backing(kD, "again"));

  // A kernel's output file (mandelbrot's --out) lands there too.
  CliRun png = Cli(kD, "submit",
                   {"mandelbrot", "--width", "64", "--height", "48", "--out",
                    Local("m.png")});
  ASSERT_EQ(png.exit_code, 0) << png.err;
  auto bytes = ReadFile(Backing(kD, "m.png"));
  ASSERT_TRUE(bytes.ok()) << "no m.png on host d: " << bytes.status();
  ASSERT_GE(bytes->size(), 24u);
  EXPECT_EQ(bytes->substr(1, 3), "PNG");
  const auto* h = reinterpret_cast<const unsigned char*>(bytes->data());
  EXPECT_EQ(h[16] << 24 | h[17] << 16 | h[18] << 8 | h[19], 64);
  EXPECT_EQ(h[20] << 24 | h[21] << 16 | h[22] << 8 | h[23], 48);
  EXPECT_FALSE(Exists(Backing(kA, "m.png")));
}

// ------------------------------------------------------------ once

TEST_F(StagingTest, TheSameInputIsUploadedOnceAndFetchedOnce) {
  // One worker (host b's), so "fetched once" is exact: its cache holds
  // every block after the first job.
  workers_[kC]->Kill();
  WaitForWorkerList("only host b's worker", [](const auto& list) {
    return list.size() == 1 && Find(list, kB) != nullptr;
  });
  const std::string name = "same.txt";
  WriteLocalText(kD, name, 4 * kMiB, 22);
  const uint64_t size = FileSize(Backing(kD, name));
  const std::string sha = Sha256Of(Backing(kD, name));
  const std::string expected = ExpectedWordcount(kD, Local(name));

  CliRun first = Cli(kD, "submit", {"--shards=6", "wordcount", Local(name)});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(first.out == expected) << first.out.size() << " vs "
                                     << expected.size() << " bytes";
  StagedLine s1 = ParseStagedLine(first.err);
  EXPECT_TRUE(s1.found && s1.uploaded == 1 && s1.stored == 0) << first.err;
  auto after_first = StatBlob(sha);
  ASSERT_TRUE(after_first.ok()) << after_first.status();
  EXPECT_TRUE(after_first->stored());
  EXPECT_EQ(after_first->size(), size);
  EXPECT_EQ(after_first->uploads(), 1u);
  EXPECT_GE(after_first->served_bytes(), size);

  // A second job on the same file: nothing uploaded, nothing fetched.
  CliRun second =
      Cli(kD, "submit", {"--shards=4", "grep", "--count", "needle7", Local(name)});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Trim(second.out),
            Trim(HostShell(kD, "LC_ALL=C grep -c needle7 " + Local(name))));
  StagedLine s2 = ParseStagedLine(second.err);
  EXPECT_TRUE(s2.found && s2.uploaded == 0 && s2.stored == 1) << second.err;
  auto after_second = StatBlob(sha);
  ASSERT_TRUE(after_second.ok()) << after_second.status();
  EXPECT_EQ(after_second->uploads(), 1u);
  EXPECT_EQ(after_second->served_bytes(), after_first->served_bytes())
      << "the second job fetched the file again instead of using the cache";

  // The same bytes under another name on another host: still stored once.
  ASSERT_EQ(system(("cp '" + Backing(kD, name) + "' '" +
                    Backing(kA, "copy.txt") + "'")
                       .c_str()),
            0);
  CliRun third = Cli(kA, "submit", {"--shards=3", "wordcount", Local("copy.txt")});
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_TRUE(third.out == expected);
  StagedLine s3 = ParseStagedLine(third.err);
  EXPECT_TRUE(s3.found && s3.uploaded == 0 && s3.stored == 1) << third.err;
  auto after_third = StatBlob(sha);
  ASSERT_TRUE(after_third.ok()) << after_third.status();
  EXPECT_EQ(after_third->uploads(), 1u);
  EXPECT_EQ(after_third->served_bytes(), after_first->served_bytes());
}

// ------------------------------------------------------------ faults

TEST_F(StagingTest, InterruptedUploadResumesWhereTheCoordinatorsCopyEnds) {
  const std::string name = "big.txt";
  const uint64_t lines = WriteLocalText(kD, name, 64 * kMiB, 33);
  const uint64_t size = FileSize(Backing(kD, name));
  const std::string sha = Sha256Of(Backing(kD, name));
  ASSERT_EQ(sha.size(), 64u);
  const std::vector<std::string> job = {"--lines", Local(name), "--shards",
                                        "6", "--reduce", "sum", "--", "wc",
                                        "-l"};

  // Host d sends at 64 Mbit/s: the upload takes ~8 s.
  ASSERT_NO_FATAL_FAILURE(Shape(kD, "64mbit"));
  auto submit = StartCli(kD, "submit", job);
  ASSERT_NE(submit, nullptr);
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  v1::BlobStat seen;
  while (true) {
    ASSERT_TRUE(submit->running())
        << "submit ended before its upload could be interrupted:\n"
        << submit->Log();
    ASSERT_LT(absl::Now(), deadline) << "no partial upload seen in 90 s";
    auto st = StatBlob(sha);
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_FALSE(st->stored())
        << "the upload finished before it could be interrupted";
    if (st->received_bytes() > 0) {
      seen = *st;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  submit->Kill();
  std::cerr << "killed submit at received_bytes " << seen.received_bytes()
            << " of " << size << "\n";
  ASSERT_TRUE(Unshape(kD).ok());

  // The partial copy outlives the client.
  auto partial = StatBlob(sha);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_FALSE(partial->stored());
  EXPECT_GT(partial->received_bytes(), 0u);
  EXPECT_LT(partial->received_bytes(), size);
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(0, "the killed submit made no job"));

  CliRun again = Cli(kD, "submit", job);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Trim(again.out), absl::StrCat(lines));
  static const std::regex re(
      "shardex: resuming upload of '([^']*)' at ([0-9]+) of ([0-9]+) bytes");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(again.err, m, re))
      << "no 'resuming upload' line: " << again.err;
  uint64_t at = 0, of = 0;
  ASSERT_TRUE(absl::SimpleAtoi(m[2].str(), &at));
  ASSERT_TRUE(absl::SimpleAtoi(m[3].str(), &of));
  EXPECT_EQ(m[1].str(), Local(name));
  EXPECT_EQ(of, size);
  EXPECT_GT(at, 0u) << "the partial copy was thrown away";
  EXPECT_LT(at, size);

  auto done = StatBlob(sha);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->stored());
  EXPECT_EQ(done->size(), size);
  EXPECT_EQ(done->uploads(), 1u);
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(1, "one job: the resumed submit's"));
}

TEST_F(StagingTest, WorkerKilledMidFetchStillGivesTheExactAnswer) {
  const std::string name = "fetch.txt";
  WriteLocalText(kD, name, 32 * kMiB, 44);
  const uint64_t size = FileSize(Backing(kD, name));
  const std::string sha = Sha256Of(Backing(kD, name));
  const std::string expected = ExpectedWordcount(kD, Local(name));
  const std::string words = Trim(HostShell(kD, "wc -w < " + Local(name)));

  // The coordinator sends at 32 Mbit/s: fetching the file takes ~8 s.
  ASSERT_NO_FATAL_FAILURE(Shape(kA, "32mbit"));
  const uint64_t job =
      SubmitDetached(kD, {"--shards=8", "wordcount", Local(name)});
  ASSERT_NE(job, 0u);
  // Mid-fetch: host b's worker runs a shard and the blob is not all served.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    ASSERT_LT(absl::Now(), deadline) << "host b never ran a shard mid-fetch";
    auto st = StatBlob(sha);
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_LT(st->served_bytes(), size)
        << "the whole file was fetched before host b's worker could be killed";
    auto list = Workers();
    if (st->served_bytes() > 0 && list.ok()) {
      const v1::WorkerInfo* b = Find(*list, kB);
      if (b != nullptr && b->running() > 0) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  workers_[kB]->Kill();
  ASSERT_TRUE(Unshape(kA).ok());

  CliRun watch = Cli(kD, "watch", {"--json", absl::StrCat(job)});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  auto status = FromJson<v1::JobStatus>(watch.out);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::JOB_SUCCEEDED) << watch.out;
  EXPECT_TRUE(status->result().value() + "\n" == expected)
      << status->result().value().size() + 1 << " vs " << expected.size()
      << " bytes";
  EXPECT_EQ(status->result().details().at("words"), words);
  ASSERT_TRUE(workers_[kC]->running()) << "host c's worker died too";
}

TEST_F(StagingTest, CoordinatorRestartMidJobResumesWithoutReupload) {
  const std::string name = "restart.txt";
  const uint64_t lines = WriteLocalText(kD, name, 4 * kMiB, 55);
  const std::string sha = Sha256Of(Backing(kD, name));
  const std::vector<std::string> job = {
      "--lines", Local(name), "--shards", "8", "--reduce", "sum", "--",
      "sh", "-c", "sleep 2; wc -l"};
  const uint64_t id = SubmitDetached(kD, job);
  ASSERT_NE(id, 0u);
  WaitForWorkerList("a shard running", [](const auto& list) {
    for (const v1::WorkerInfo& w : list) {
      if (w.running() > 0) return true;
    }
    return false;
  });
  coordinator_->Kill();
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(/*retry=*/true));

  CliRun watch = Cli(kD, "watch", {absl::StrCat(id)});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_EQ(Trim(watch.out), absl::StrCat(lines));
  CliRun status = Cli(kD, "status", {"--json", absl::StrCat(id)});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto st = FromJson<v1::JobStatus>(status.out);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(st->result().value(), absl::StrCat(lines));

  // The restarted coordinator still has the file (its counters start again
  // at zero with the process), and a new submit of it uploads nothing.
  auto blob = StatBlob(sha);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_TRUE(blob->stored());
  EXPECT_EQ(blob->uploads(), 0u) << "uploaded again after the restart";
  CliRun again = Cli(kD, "submit",
                     {"--lines", Local(name), "--shards", "3", "--reduce",
                      "sum", "--", "wc", "-l"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Trim(again.out), absl::StrCat(lines));
  StagedLine s = ParseStagedLine(again.err);
  EXPECT_TRUE(s.found && s.uploaded == 0 && s.stored == 1) << again.err;
}

// ------------------------------------------------------------ limits

class StagingStoreQuotaTest : public StagingTest {
 protected:
  StagingStoreQuotaTest() { coordinator_flags_ = {"--max-store-bytes", "1M"}; }
};

TEST_F(StagingStoreQuotaTest, UploadPastTheStoreCapFailsNamingTheFlag) {
  // Under the cap: an exact answer.
  WriteLocalText(kD, "small.txt", 100 * 1024, 66);
  const std::string expected = ExpectedWordcount(kD, Local("small.txt"));
  CliRun small = Cli(kD, "submit", {"wordcount", Local("small.txt")});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(small.out == expected);

  WriteLocalText(kD, "large.txt", 2 * kMiB, 67);
  CliRun large = Cli(kD, "submit", {"wordcount", Local("large.txt")});
  EXPECT_EQ(large.exit_code, 2) << large.out << large.err;
  EXPECT_NE(large.err.find("--max-store-bytes"), std::string::npos)
      << large.err;
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(1, "only the small job was submitted"));
}

class StagingUploadQuotaTest : public StagingTest {
 protected:
  StagingUploadQuotaTest() {
    coordinator_flags_ = {"--max-upload-bytes", "1M"};
  }
};

TEST_F(StagingUploadQuotaTest, FileLargerThanTheUploadCapFailsNamingTheFlag) {
  WriteLocalText(kD, "large.txt", 2 * kMiB, 68);
  CliRun large = Cli(kD, "submit", {"wordcount", Local("large.txt")});
  EXPECT_EQ(large.exit_code, 2) << large.out << large.err;
  EXPECT_NE(large.err.find("--max-upload-bytes"), std::string::npos)
      << large.err;
  ASSERT_NO_FATAL_FAILURE(ExpectJobCount(0, "nothing was submitted"));

  WriteLocalText(kD, "small.txt", 100 * 1024, 69);
  const std::string expected = ExpectedWordcount(kD, Local("small.txt"));
  CliRun small = Cli(kD, "submit", {"wordcount", Local("small.txt")});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(small.out == expected);
}

// ------------------------------------------------------------ --shared-fs

TEST_F(StagingTest, SharedFsKeepsPathsAsTheyAre) {
  const std::string path = hosts_->shared_dir() + "/shared.txt";
  ASSERT_GT(WriteText(path, kMiB, 77), 0u);
  const std::string expected = ExpectedWordcount(kD, path);
  CliRun run =
      Cli(kD, "submit", {"--shared-fs", "--shards=4", "wordcount", path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(run.out == expected);
  EXPECT_FALSE(ParseStagedLine(run.err).found)
      << "--shared-fs staged files: " << run.err;
  // Nothing went to the store.
  auto stat = StatBlob(Sha256Of(path));
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_FALSE(stat->stored());
  EXPECT_EQ(stat->uploads(), 0u);
}

}  // namespace

// This binary run on a host as `staging_test --staging-test-stat-blobs
// ADDRESS TOKEN_FILE CA CERT KEY SHA256...`: prints the StatBlobsResponse as
// JSON on stdout, exit 0; or the error on stderr, exit 1.
int StatBlobsMain(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s %s ADDRESS TOKEN CA CERT KEY SHA256...\n",
            argv[0], kStatBlobsFlag);
    return 1;
  }
  ChannelOptions options;
  options.target = argv[2];
  options.tls.ca = argv[4];
  options.tls.cert = argv[5];
  options.tls.key = argv[6];
  absl::StatusOr<std::string> token = ReadTokenFile(argv[3]);
  if (!token.ok()) {
    fprintf(stderr, "%s\n", token.status().ToString().c_str());
    return 1;
  }
  auto channel = CreateCoordinatorChannel(options);
  if (!channel.ok()) {
    fprintf(stderr, "%s\n", channel.status().ToString().c_str());
    return 1;
  }
  auto stub = v1::Store::NewStub(*channel);
  v1::StatBlobsRequest request;
  for (int i = 7; i < argc; ++i) request.add_sha256(argv[i]);
  v1::StatBlobsResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  AddTokenMetadata(*token, &ctx);
  grpc::Status st = stub->StatBlobs(&ctx, request, &response);
  if (!st.ok()) {
    fprintf(stderr, "StatBlobs: %d %s\n", static_cast<int>(st.error_code()),
            st.error_message().c_str());
    return 1;
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  auto printed =
      google::protobuf::util::MessageToJsonString(response, &json, print);
  if (!printed.ok()) {
    fprintf(stderr, "%s\n", printed.ToString().c_str());
    return 1;
  }
  fwrite(json.data(), 1, json.size(), stdout);
  return 0;
}

}  // namespace shardex

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == shardex::kStatBlobsFlag) {
    const int rc = shardex::StatBlobsMain(argc, argv);
    fflush(stdout);
    fflush(stderr);
    _exit(rc);  // no exit-time leak check or gRPC teardown in a helper
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
