// Several hosts in one test (issue 10): a coordinator on host a, workers on
// hosts a, b and c, each host a network namespace with its own address,
// HOME, state directory and host-local directory (tests/netns_hosts.h),
// joined by a bridge. Everything runs with today's flags: mutual TLS with
// certificates made by `openssl` at test time (the coordinator's address in
// its certificate's SAN), the coordinator's token file copied to every
// host, jobs submitted from a worker host.
//
// Every test ends with an exact answer: a prime count known in advance, pi
// compared with the same job on a one-worker local cluster, a command
// job's sum computed here, word counts compared with `wc -w`. The faults:
// a worker host's worker killed with SIGKILL, a worker host's link down
// for 10 s, the submitting host's link down for 10 s under `submit` and
// `watch`. After each test no namespace, link or process is left.
//
// MultiHostBuiltinCaTest does the same with the built-in CA instead: a
// coordinator on host a with no --tls-* and no --insecure, join tokens
// made there with `shardex token create`, workers on b and c enrolled with
// `worker --join`, host c with `login --join` and then no flags; and the
// refusals across hosts: an expired token, a token with the wrong CA
// fingerprint, a revoked worker certificate.
//
// Without root, `ip`, `unshare` or the right to make namespaces, every test
// is skipped with the reason.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/shardex.pb.h"
#include "tests/netns_cluster.h"
#include "tests/netns_hosts.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

constexpr int kA = 0;  // the coordinator's host, and a worker
constexpr int kB = 1;  // a worker
constexpr int kC = 2;  // a worker; submits
constexpr absl::Duration kLinkDown = absl::Seconds(10);
// How long a CLI may take after its host's link came back.
constexpr absl::Duration kCliBound = absl::Seconds(90);

// The sum of [0, n): the answer of SumJob.
int64_t SumBelow(int64_t n) { return n * (n - 1) / 2; }

// A command job summing [0, n) in `shards` shards, each sleeping `sleep_s`
// first, so a job lasts as long as a fault needs.
std::vector<std::string> SumJob(int n, int shards, int sleep_s) {
  return {absl::StrCat("--range=0:", n), absl::StrCat("--shards=", shards),
          "--reduce=sum", "--", "sh", "-c",
          absl::StrCat("sleep ", sleep_s,
                       "; echo $(( ({begin} + {end} - 1) * ({end} - {begin})"
                       " / 2 ))")};
}

class MultiHostTest : public NetnsClusterTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CreateHosts(3));
    if (hosts_ == nullptr) return;  // skipped
    if (builtin_ca_) {
      // The built-in CA: no certificates or token files made here; hosts
      // enrol with join tokens created on host a. Host c logs in first, so
      // it lists the workers.
      ASSERT_NO_FATAL_FAILURE(StartCoordinator());
      query_host_ = kC;
      CliRun login = Login(kC, CreateToken("client"));
      ASSERT_EQ(login.exit_code, 0) << login.err;
      for (int h : {kB, kC}) {
        ASSERT_NO_FATAL_FAILURE(StartWorker(h, CreateToken("worker")));
      }
      ASSERT_NO_FATAL_FAILURE(WaitForWorkers(2));
      return;
    }
    ASSERT_NO_FATAL_FAILURE(MakeCertificates(dir_ + "/pki"));
    ASSERT_NO_FATAL_FAILURE(StartCoordinator());
    for (int h : {kA, kB, kC}) ASSERT_NO_FATAL_FAILURE(StartWorker(h));
    ASSERT_NO_FATAL_FAILURE(WaitForWorkers(3));
  }

  // What a worker or client on `host` needs to reach the coordinator:
  // nothing once enrolled with the built-in CA.
  std::vector<std::string> AccessFlags(int host) const override {
    if (builtin_ca_) return {};
    return NetnsClusterTest::AccessFlags(host);
  }

  // With the built-in CA: no --tls-* and no --insecure, so a coordinator
  // listening beyond loopback makes its own CA (its address is in the
  // server certificate by default: no --advertise).
  void StartCoordinator() {
    ASSERT_NO_FATAL_FAILURE(StartCoordinator(!builtin_ca_, {}, false));
  }
  using NetnsClusterTest::StartCoordinator;

  // A worker on `host` (NetnsClusterTest::StartWorker). With `join`, it
  // enrols with that join token first.
  void StartWorker(int host, const std::string& join = "") {
    std::vector<std::string> extra;
    if (!join.empty()) {
      extra = {"--join=" + join, "--coordinator=" + Address()};
    }
    ASSERT_NO_FATAL_FAILURE(NetnsClusterTest::StartWorker(host, extra));
  }

  // `shardex ARGS...` on host a, as the operator, on the coordinator's
  // state directory (token and cert commands).
  CliRun Operator(std::vector<std::string> args) {
    args.insert(args.begin(), ShardexBinary());
    args.insert(args.end(), {"--state-dir", CoordinatorState()});
    return hosts_->Run(kA, args, absl::Seconds(30));
  }

  // A join token for `role`, created on host a.
  std::string CreateToken(const std::string& role,
                          const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"token", "create", "--role", role};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = Operator(args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return Trim(run.out);
  }

  CliRun Login(int host, const std::string& token) {
    return hosts_->Run(host, {ShardexBinary(), "login", "--join", token,
                              "--coordinator", Address()},
                       absl::Seconds(30));
  }

  // Submits `args` from host c without following; the job's id.
  uint64_t SubmitDetached(const std::vector<std::string>& args) {
    return NetnsClusterTest::SubmitDetached(kC, args);
  }

  // Waits until the worker on `host` runs a shard (of any job).
  void WaitUntilRunningOn(int host) {
    const std::string name = hosts_->name(host);
    WaitForWorkerList("a shard running on host " + name,
                      [&name](const auto& list) {
                        const v1::WorkerInfo* w = Find(list, name);
                        return w != nullptr && w->running() > 0;
                      });
  }

  void ExpectWatchAnswer(uint64_t job, const std::string& answer) {
    CliRun run = Cli(kC, "watch", {absl::StrCat(job)});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(Trim(run.out), answer) << run.err;
  }

  // Host b's worker killed with SIGKILL while it runs a shard of a SumJob
  // of [0, n) in `shards` shards: the answer is still exact.
  void ExpectExactAnswerWithBKilled(int n, int shards) {
    const uint64_t job = SubmitDetached(SumJob(n, shards, 2));
    ASSERT_NE(job, 0u);
    ASSERT_NO_FATAL_FAILURE(WaitUntilRunningOn(kB));
    workers_[kB]->Kill();
    ExpectWatchAnswer(job, absl::StrCat(SumBelow(n)));
  }

  // The workers of `hosts` are listed, each from its host's address.
  void ExpectWorkersFromTheirAddresses(const std::vector<int>& hosts) {
    auto workers = Workers();
    ASSERT_TRUE(workers.ok()) << workers.status();
    for (int h : hosts) {
      const v1::WorkerInfo* w = Find(*workers, hosts_->name(h));
      ASSERT_NE(w, nullptr) << "host " << hosts_->name(h);
      EXPECT_NE(w->peer().find(hosts_->ip(h) + ":"), std::string::npos)
          << w->peer();
    }
  }

  bool builtin_ca_ = false;  // set before SetUp
};

TEST_F(MultiHostTest, HostsHaveTheirOwnAddressesHomesAndLocalDirectories) {
  // Each host sees its own file at the same local path, the same shared
  // file, its own HOME, and its own address.
  std::ofstream(hosts_->shared_dir() + "/seen") << "by all\n";
  for (int h = 0; h < hosts_->size(); ++h) {
    std::ofstream(hosts_->local_backing_dir(h) + "/name")
        << hosts_->name(h) << "\n";
  }
  for (int h = 0; h < hosts_->size(); ++h) {
    CliRun run = hosts_->Run(
        h, {"/bin/sh", "-c",
            absl::StrCat("cat ", hosts_->local_dir(), "/name ",
                         hosts_->shared_dir(), "/seen; echo $HOME; ",
                         "cat /proc/net/fib_trie | grep -c ", hosts_->ip(h))});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    std::vector<std::string> lines = absl::StrSplit(Trim(run.out), '\n');
    ASSERT_EQ(lines.size(), 4u) << run.out;
    EXPECT_EQ(lines[0], hosts_->name(h));
    EXPECT_EQ(lines[1], "by all");
    EXPECT_EQ(lines[2], hosts_->home(h));
    EXPECT_NE(lines[3], "0") << "no " << hosts_->ip(h) << " on host " << h;
  }
  // Outside the hosts the local path is an empty mount point.
  EXPECT_FALSE(ReadFile(hosts_->local_dir() + "/name").ok());
  // Workers connect from their own addresses.
  ExpectWorkersFromTheirAddresses({kA, kB, kC});
}

TEST_F(MultiHostTest, ExactAnswersAcrossHosts) {
  CliRun primes = Cli(kB, "submit", {"--shards=12", "primes", "--to", "1e9"});
  EXPECT_EQ(primes.exit_code, 0) << primes.err;
  EXPECT_EQ(Trim(primes.out), "50847534");

  // pi across three hosts is bit-identical to pi on one local worker.
  const std::vector<std::string> pi = {"pi", "--samples", "2e8", "--seed",
                                       "20261206"};
  std::vector<std::string> spread = {"--shards=9"};
  spread.insert(spread.end(), pi.begin(), pi.end());
  CliRun many = Cli(kC, "submit", spread);
  std::vector<std::string> local = {ShardexBinary(), "local", "--workers=1",
                                    "--threads=1"};
  local.insert(local.end(), pi.begin(), pi.end());
  CliRun one = hosts_->Run(kC, local);
  EXPECT_EQ(many.exit_code, 0) << many.err;
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_FALSE(Trim(many.out).empty());
  EXPECT_EQ(Trim(many.out), Trim(one.out));

  CliRun sum = Cli(kB, "submit", SumJob(100, 7, 0));
  EXPECT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(Trim(sum.out), absl::StrCat(SumBelow(100)));

  // Command shards run in their worker's host: they see its local files.
  for (int h = 0; h < hosts_->size(); ++h) {
    std::ofstream(hosts_->local_backing_dir(h) + "/name")
        << hosts_->name(h) << "\n";
  }
  CliRun names = Cli(kB, "submit",
                     {"--shards=12", "--", "cat", hosts_->local_dir() + "/name"});
  EXPECT_EQ(names.exit_code, 0) << names.err;
  for (absl::string_view line : absl::StrSplit(Trim(names.out), '\n')) {
    EXPECT_TRUE(line == "a" || line == "b" || line == "c") << names.out;
  }

  // wordcount on a file all hosts see, against `wc -w`.
  const std::string text = hosts_->shared_dir() + "/words.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 200000; ++i) {
      out << "w" << (i * 7919 % 5003) << ((i % 13 == 0) ? "\n" : " \t ");
    }
  }
  CliRun wc = hosts_->Run(kA, {"/bin/sh", "-c", "wc -w < " + text});
  ASSERT_EQ(wc.exit_code, 0) << wc.err;
  CliRun words = Cli(kC, "submit", {"--json", "--shards=5", "wordcount", text});
  ASSERT_EQ(words.exit_code, 0) << words.err;
  auto job = FromJson<v1::JobStatus>(words.out);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->result().details().at("words"), Trim(wc.out));
  EXPECT_EQ(Trim(wc.out), "200000");
}

TEST_F(MultiHostTest, KilledWorkerHostStillGivesTheExactAnswer) {
  ExpectExactAnswerWithBKilled(60, 30);
}

TEST_F(MultiHostTest, WorkerHostLinkDownThenUpGivesTheExactAnswer) {
  const uint64_t job = SubmitDetached(SumJob(60, 30, 3));
  ASSERT_NE(job, 0u);
  ASSERT_NO_FATAL_FAILURE(WaitUntilRunningOn(kB));
  auto before = Workers();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_NE(Find(*before, "b"), nullptr);
  const uint64_t old_id = Find(*before, "b")->worker_id();

  ASSERT_TRUE(hosts_->LinkDown(kB).ok());
  const absl::Time up_at = absl::Now() + kLinkDown;
  // The coordinator gives up on it (heartbeat timeout 3 s).
  WaitForWorkerList(
      "host b's worker dropped while its link is down",
      [](const auto& list) { return Find(list, "b") == nullptr; }, kLinkDown);
  absl::SleepFor(up_at - absl::Now());
  ASSERT_TRUE(hosts_->LinkUp(kB).ok());
  // It comes back by itself, as a new session from its own address.
  WaitForWorkerList("host b's worker registered again", [&](const auto& list) {
    const v1::WorkerInfo* w = Find(list, "b");
    return w != nullptr && w->worker_id() != old_id &&
           w->peer().find(hosts_->ip(kB) + ":") != std::string::npos;
  });
  ExpectWatchAnswer(job, absl::StrCat(SumBelow(60)));
}

// Needs the client to notice a dead connection (keepalive) and to
// re-establish a watch: without that, `submit` and `watch` hang on the
// connection that died with the link, and are killed after kCliBound.
TEST_F(MultiHostTest, SubmittingHostLinkDownThenUpSubmitAndWatchFinish) {
  auto submit = StartCli(kC, "submit", SumJob(60, 30, 3));
  ASSERT_NE(submit, nullptr);
  uint64_t job = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (job == 0 && absl::Now() < deadline) {
    CliRun jobs = Cli(kA, "jobs", {"--json"}, absl::Seconds(30));
    auto list = FromJson<v1::ListJobsResponse>(jobs.out);
    if (list.ok() && list->jobs_size() == 1) job = list->jobs(0).job_id();
  }
  ASSERT_NE(job, 0u) << "the submitted job never appeared";
  auto watch = StartCli(kC, "watch", {absl::StrCat(job)});
  ASSERT_NE(watch, nullptr);
  ASSERT_NO_FATAL_FAILURE(WaitUntilRunningOn(kA));
  ASSERT_TRUE(submit->running()) << submit->Log();
  ASSERT_TRUE(watch->running()) << watch->Log();

  ASSERT_TRUE(hosts_->LinkDown(kC).ok());
  absl::SleepFor(kLinkDown);
  ASSERT_TRUE(hosts_->LinkUp(kC).ok());

  const std::string answer = absl::StrCat(SumBelow(60));
  const absl::Time bound = absl::Now() + kCliBound;
  for (auto* p : {submit.get(), watch.get()}) {
    CliRun run = p->Finish(std::max(bound - absl::Now(), absl::ZeroDuration()));
    EXPECT_EQ(run.exit_code, 0)
        << (run.exit_code == -1
                ? absl::StrCat("still running ", absl::FormatDuration(kCliBound),
                               " after the link came back: killed. ")
                : "")
        << run.err;
    EXPECT_EQ(Trim(run.out), answer) << run.err;
  }
}

// The built-in CA across hosts: the coordinator on host a makes its own CA
// (no --tls-*, no --insecure), workers on b and c enrol with
// `worker --join`, host c with `login --join`, and then nothing needs a
// flag. Join tokens are created on host a with `shardex token create`.
class MultiHostBuiltinCaTest : public MultiHostTest {
 protected:
  MultiHostBuiltinCaTest() { builtin_ca_ = true; }

  // A fresh `worker --join` on `host`, in an identity directory of its
  // own; it must stop by itself within 60 s. Its exit code and output.
  CliRun JoinWorker(int host, const std::string& token) {
    return hosts_->Run(
        host,
        {ShardexBinary(), "worker", "--join=" + token,
         "--coordinator=" + Address(), "--threads=1",
         "--identity-dir=" + hosts_->home(host) + "/another-worker"},
        absl::Seconds(60));
  }
};

TEST_F(MultiHostBuiltinCaTest, JoinedHostsGiveExactAnswersWithNoFlags) {
  CliRun primes = Cli(kC, "submit", {"primes", "--to", "1e9"});
  EXPECT_EQ(primes.exit_code, 0) << primes.err;
  EXPECT_EQ(Trim(primes.out), "50847534");
  CliRun sum = Cli(kC, "submit", SumJob(100, 7, 0));
  EXPECT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(Trim(sum.out), absl::StrCat(SumBelow(100)));
  ASSERT_NO_FATAL_FAILURE(ExpectWorkersFromTheirAddresses({kB, kC}));
  // kill -9 of host b's worker mid-job: still the exact answer.
  ExpectExactAnswerWithBKilled(40, 20);
}

TEST_F(MultiHostBuiltinCaTest, ExpiredTokenCannotJoin) {
  const std::string token = CreateToken("worker", {"--ttl", "1s"});
  ASSERT_FALSE(token.empty());
  absl::SleepFor(absl::Seconds(2));
  CliRun join = JoinWorker(kB, token);
  EXPECT_NE(join.exit_code, 0) << join.err;
  EXPECT_NE(join.exit_code, -1) << "still running after 60 s";
  EXPECT_NE((join.out + join.err).find("expired"), std::string::npos)
      << join.out << join.err;
}

TEST_F(MultiHostBuiltinCaTest, WrongFingerprintIsRefusedByTheJoiningHost) {
  std::string token = CreateToken("client");
  ASSERT_GE(token.size(), 7u + 64u) << token;
  const std::string real = token.substr(7, 64);
  const std::string other(64, real[0] == '0' ? '1' : '0');
  token.replace(7, 64, other);
  CliRun login = Login(kB, token);
  EXPECT_EQ(login.exit_code, 2) << login.err;
  EXPECT_NE(login.err.find(real), std::string::npos) << login.err;
  EXPECT_NE(login.err.find(other), std::string::npos) << login.err;
  CliRun join = JoinWorker(kB, token);
  EXPECT_EQ(join.exit_code, 2) << join.err;
  EXPECT_NE((join.out + join.err).find(real), std::string::npos)
      << join.out << join.err;
  EXPECT_NE((join.out + join.err).find(other), std::string::npos)
      << join.out << join.err;
}

TEST_F(MultiHostBuiltinCaTest, RevokedWorkerCannotReconnect) {
  // Host b's worker certificate, by its name, in `cert list` on host a.
  CliRun list = Operator({"cert", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::string serial;
  for (absl::string_view line : absl::StrSplit(list.out, '\n')) {
    std::vector<std::string> cols =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cols.size() >= 5 && cols[1] == "worker" && cols.back() == "host-b") {
      serial = cols[0];
    }
  }
  ASSERT_FALSE(serial.empty()) << "no worker certificate of host-b:\n"
                               << list.out;
  CliRun revoke = Operator({"cert", "revoke", serial});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;

  workers_[kB]->Kill();
  ASSERT_NO_FATAL_FAILURE(StartWorker(kB));  // no --join: its identity
  CliRun again = workers_[kB]->Finish(absl::Seconds(60));
  EXPECT_EQ(again.exit_code, 2) << again.out << again.err;
  EXPECT_NE((again.out + again.err).find("was revoked"), std::string::npos)
      << again.out << again.err;
  // Host c's worker is unaffected.
  WaitForWorkerList("only host c's worker", [](const auto& list) {
    return list.size() == 1 && Find(list, "c") != nullptr;
  });
}

// A run that crashed left a namespace with a process in it: the next
// Create() removes both (the name carries the dead run's pid).
TEST(NetnsHostsTest, NamespacesOfACrashedRunAreRemovedOnStart) {
  if (absl::Status st = NetnsHosts::Available(); !st.ok()) {
    GTEST_SKIP() << "no hosts from network namespaces here: " << st.message();
  }
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  const std::string stale = absl::StrCat("sdxh", dead, "-0-a");
  ASSERT_EQ(system(("ip netns add " + stale).c_str()), 0);
  auto sleeper = Subprocess::Start(
      {"/bin/sh", "-c", "exec ip netns exec " + stale + " sleep 600"}, {});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE((*sleeper)->running());

  const std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/stale");
  mkdir(dir.c_str(), 0755);
  auto hosts = NetnsHosts::Create(1, dir);
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  absl::StatusOr<int> status = (*sleeper)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << "the stale namespace's process still runs";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  struct stat st;
  EXPECT_NE(stat(("/run/netns/" + stale).c_str(), &st), 0)
      << "the stale namespace is still there";
  EXPECT_TRUE((*hosts)->Destroy().ok());
}

}  // namespace
}  // namespace shardex
