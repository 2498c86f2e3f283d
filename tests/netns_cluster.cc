// The shared multi-host fixture (tests/netns_cluster.h).
#include "tests/netns_cluster.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"

namespace shardex {

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

void NetnsClusterTest::CreateHosts(int n) {
  if (absl::Status st = NetnsHosts::Available(); !st.ok()) {
    GTEST_SKIP() << "no hosts from network namespaces here: " << st.message();
  }
  dir_ = absl::StrCat(
      getenv("TEST_TMPDIR"), "/",
      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  mkdir(dir_.c_str(), 0755);
  auto hosts = NetnsHosts::Create(n, dir_);
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  hosts_ = std::move(hosts).value();
}

void NetnsClusterTest::TearDown() {
  if (hosts_ == nullptr) return;
  StopAndDestroyHosts();
}

void NetnsClusterTest::StopAndDestroyHosts() {
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
  absl::Status leaks = hosts_->Destroy();
  EXPECT_TRUE(leaks.ok()) << leaks;
  hosts_.reset();
}

void NetnsClusterTest::MakeCertificates(const std::string& pki) {
  mkdir(pki.c_str(), 0700);
  std::string names;
  for (int h = 0; h < hosts_->size(); ++h) {
    absl::StrAppend(&names, " ", hosts_->name(h));
  }
  std::string script = absl::StrCat(
      "set -e; cd ", pki, "; ", "printf 'subjectAltName=IP:",
      hosts_->ip(kCoordinatorHost), ",DNS:host-",
      hosts_->name(kCoordinatorHost),
      "\\n' > server.ext; "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=shardex-test-ca "
      "2>/dev/null; "
      "for n in server",
      names,
      "; do "
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
  absl::StrAppend(&script, "; cp server.pem server.key ",
                  Config(kCoordinatorHost));
  ASSERT_EQ(system(script.c_str()), 0) << "openssl failed: " << script;
}

std::vector<std::string> NetnsClusterTest::AccessFlags(int host) const {
  const std::string d = Config(host);
  return {"--coordinator=" + Address(), "--token-file=" + d + "/token",
          "--tls-ca=" + d + "/ca.pem", "--tls-cert=" + d + "/client.pem",
          "--tls-key=" + d + "/client.key"};
}

void NetnsClusterTest::StartCoordinator(bool tls,
                                        const std::vector<std::string>& extra,
                                        bool retry) {
  const std::string d = Config(kCoordinatorHost);
  std::vector<std::string> argv = {
      ShardexBinary(), "coordinator", "--listen=" + Address(),
      "--state-dir=" + CoordinatorState(), "--port-file=" + PortFile()};
  if (tls) {
    argv.insert(argv.end(), {"--tls-cert=" + d + "/server.pem",
                             "--tls-key=" + d + "/server.key",
                             "--tls-ca=" + d + "/ca.pem"});
  }
  argv.insert(argv.end(), {"--allow-commands", "--heartbeat-timeout=3s"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    unlink(PortFile().c_str());
    auto p = hosts_->Start(kCoordinatorHost, argv, "coordinator");
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
  if (!tls) return;
  // The token travels to every host, as an operator would copy it.
  auto token = ReadFile(CoordinatorState() + "/token");
  ASSERT_TRUE(token.ok()) << token.status();
  for (int h = 0; h < hosts_->size(); ++h) {
    const std::string copy = Config(h) + "/token";
    ASSERT_TRUE(WriteFileAtomically(copy, *token).ok());
    chmod(copy.c_str(), 0600);
  }
}

void NetnsClusterTest::StartWorker(int host,
                                   const std::vector<std::string>& extra) {
  mkdir((hosts_->local_backing_dir(host) + "/scratch").c_str(), 0755);
  std::vector<std::string> argv = {ShardexBinary(), "worker"};
  for (const std::string& f : AccessFlags(host)) argv.push_back(f);
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(
      argv.end(),
      {"--name=host-" + hosts_->name(host), "--threads=1", "--processes=2",
       "--scratch-dir=" + hosts_->local_dir() + "/scratch"});
  auto p = hosts_->Start(host, argv, "worker");
  ASSERT_TRUE(p.ok()) << p.status();
  if (workers_.size() <= static_cast<size_t>(host)) workers_.resize(host + 1);
  workers_[host] = std::move(p).value();
}

std::vector<std::string> NetnsClusterTest::CliArgv(
    int host, const std::string& command,
    const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {ShardexBinary(), command};
  for (const std::string& f : AccessFlags(host)) argv.push_back(f);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

CliRun NetnsClusterTest::Cli(int host, const std::string& command,
                             const std::vector<std::string>& args,
                             absl::Duration timeout) {
  return hosts_->Run(host, CliArgv(host, command, args), timeout);
}

std::unique_ptr<HostProcess> NetnsClusterTest::StartCli(
    int host, const std::string& command,
    const std::vector<std::string>& args) {
  auto p = hosts_->Start(host, CliArgv(host, command, args), command);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(p).value() : nullptr;
}

absl::StatusOr<std::vector<v1::WorkerInfo>> NetnsClusterTest::Workers() {
  CliRun run = Cli(query_host_, "workers", {"--json"}, absl::Seconds(30));
  if (run.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("workers: ", run.err));
  }
  auto list = FromJson<v1::ListWorkersResponse>(run.out);
  if (!list.ok()) return list.status();
  return std::vector<v1::WorkerInfo>(list->workers().begin(),
                                     list->workers().end());
}

const v1::WorkerInfo* NetnsClusterTest::Find(
    const std::vector<v1::WorkerInfo>& list, const std::string& name) {
  for (const v1::WorkerInfo& w : list) {
    if (w.host() == "host-" + name) return &w;
  }
  return nullptr;
}

void NetnsClusterTest::WaitForWorkerList(
    const std::string& what,
    const std::function<bool(const std::vector<v1::WorkerInfo>&)>& pred,
    absl::Duration timeout) {
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

void NetnsClusterTest::WaitForWorkers(size_t n) {
  WaitForWorkerList(absl::StrCat(n, " workers registered"),
                    [n](const auto& list) { return list.size() >= n; });
}

uint64_t NetnsClusterTest::SubmitDetached(
    int host, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--detach"};
  all.insert(all.end(), args.begin(), args.end());
  CliRun run = Cli(host, "submit", all);
  uint64_t id = 0;
  EXPECT_TRUE(run.exit_code == 0 && absl::SimpleAtoi(Trim(run.out), &id))
      << run.exit_code << " " << run.out << run.err;
  return id;
}

}  // namespace shardex
