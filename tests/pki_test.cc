// The built-in PKI end to end, with real processes on loopback: a
// coordinator with --builtin-ca, workers enrolled with `worker --join`,
// a user enrolled with `login --join`, and the ways a join token or a
// certificate must be refused.
//
// Each test gets its own XDG directories (set in this process, inherited
// by every child), so `login` writes its config there and nothing reads
// the user's real ones.
#include "common/pki.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "common/token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

using ::testing::HasSubstr;

constexpr char kPrimesTo1e6[] = "78498";

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

std::string Strip(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = TempDir() + "/pki_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    state_dir_ = root_ + "/state";
    setenv("XDG_CONFIG_HOME", (root_ + "/config").c_str(), 1);
    setenv("XDG_DATA_HOME", (root_ + "/data").c_str(), 1);
    for (const char* var :
         {"SHARDEX_COORDINATOR", "SHARDEX_TOKEN_FILE", "SHARDEX_TLS_CA",
          "SHARDEX_TLS_CERT", "SHARDEX_TLS_KEY"}) {
      unsetenv(var);
    }
    ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  }

  void TearDown() override {
    for (auto& w : workers_) w->Stop(absl::Seconds(5));
    if (coordinator_ != nullptr) coordinator_->Stop(absl::Seconds(5));
    if (HasFailure()) {
      std::cerr << "coordinator log:\n"
                << ReadFile(root_ + "/coordinator.log").value_or("") << "\n";
      for (size_t i = 0; i < workers_.size(); ++i) {
        std::cerr << "worker " << i << " log:\n" << WorkerLog(i) << "\n";
      }
    }
    // Its directory is under $TMPDIR, which Bazel does not clean up.
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  void StartCoordinator() {
    const std::string port_file = root_ + "/port";
    Subprocess::Options opts;
    opts.stdout_file = opts.stderr_file = root_ + "/coordinator.log";
    std::vector<std::string> argv = {ShardexBinary(),
                                     "coordinator",
                                     "--listen=127.0.0.1:0",
                                     "--port-file=" + port_file,
                                     "--state-dir=" + state_dir_,
                                     "--builtin-ca"};
    argv.insert(argv.end(), coordinator_flags_.begin(),
                coordinator_flags_.end());
    coordinator_ = Subprocess::Start(argv, opts).value();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::string port;
    while ((port = Strip(ReadFile(port_file).value_or(""))).empty()) {
      ASSERT_TRUE(coordinator_->running()) << "coordinator exited";
      ASSERT_LT(absl::Now(), deadline) << "coordinator did not start";
      absl::SleepFor(absl::Milliseconds(20));
    }
    address_ = "127.0.0.1:" + port;
  }

  // An operator's client on the coordinator's host: its token, over TLS
  // verified against the built-in CA.
  std::unique_ptr<CoordinatorClient> OperatorClient() {
    ClientOptions options;
    options.coordinator = address_;
    options.token = ReadTokenFile(state_dir_ + "/token").value();
    options.tls.ca = state_dir_ + "/pki/ca.crt";
    return std::make_unique<CoordinatorClient>(options);
  }

  std::string CreateToken(const std::string& role,
                          std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"token", "create",      "--role",
                                     role,    "--state-dir", state_dir_};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun run = RunCli(args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return Strip(run.out);
  }

  // `shardex worker`, enrolling with `join_token` unless it is empty.
  int StartWorker(const std::string& identity_dir,
                  const std::string& join_token,
                  std::vector<std::string> extra_flags = {}) {
    const int index = workers_.size();
    Subprocess::Options opts;
    opts.stdout_file = opts.stderr_file =
        absl::StrCat(root_, "/worker-", index, ".log");
    std::vector<std::string> argv = {ShardexBinary(), "worker", "--threads=1",
                                     "--identity-dir=" + identity_dir,
                                     absl::StrCat("--name=w", index)};
    if (!join_token.empty()) {
      argv.push_back("--coordinator=" + address_);
      argv.push_back("--join=" + join_token);
    }
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    workers_.push_back(Subprocess::Start(argv, opts).value());
    return index;
  }

  // Worker `index` must stop by itself with exit code 2 and `reason` in
  // its log, as it does for an authentication error.
  void ExpectWorkerGivesUp(int index, const std::string& reason) {
    absl::StatusOr<int> exited = workers_[index]->Wait(absl::Seconds(30));
    ASSERT_TRUE(exited.ok()) << "still running:\n" << WorkerLog(index);
    EXPECT_EQ(WEXITSTATUS(*exited), 2);
    EXPECT_THAT(WorkerLog(index), HasSubstr(reason));
  }

  std::string WorkerLog(int index) {
    return ReadFile(absl::StrCat(root_, "/worker-", index, ".log"))
        .value_or("");
  }

  // Waits until the coordinator lists `n` workers.
  void WaitForWorkers(size_t n) {
    auto client = OperatorClient();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      auto workers = client->ListWorkers();
      if (workers.ok() && workers->size() >= n) return;
      ASSERT_LT(absl::Now(), deadline)
          << (workers.ok() ? "too few workers" : workers.status().ToString());
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // The serial of the only certificate issued for `role`.
  std::string SerialOf(const std::string& role) {
    CliRun list = RunCli({"cert", "list", "--state-dir", state_dir_});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    for (absl::string_view line : absl::StrSplit(list.out, '\n')) {
      std::vector<std::string> cols =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (cols.size() >= 2 && cols[1] == role) return cols[0];
    }
    ADD_FAILURE() << "no " << role << " certificate in:\n" << list.out;
    return "";
  }

  CliRun Login(const std::string& token) {
    return RunCli({"login", "--join", token, "--coordinator", address_});
  }

  std::vector<std::string> coordinator_flags_;  // set before SetUp
  std::string root_;
  std::string state_dir_;
  std::string address_;
  std::unique_ptr<Subprocess> coordinator_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
};

TEST_F(PkiTest, WorkerJoinsRunsAJobAndLaterStartsNeedNoFlags) {
  const std::string identity = root_ + "/worker-identity";
  StartWorker(identity, CreateToken("worker"));
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  EXPECT_EQ(ModeOf(identity), 0700u);
  EXPECT_EQ(ModeOf(identity + "/key.pem"), 0600u);
  EXPECT_EQ(ModeOf(identity + "/config"), 0600u);
  EXPECT_EQ(ModeOf(identity + "/cert.pem"), 0644u);
  EXPECT_EQ(ModeOf(state_dir_ + "/pki/ca.key"), 0600u);
  EXPECT_EQ(ModeOf(state_dir_ + "/pki/server.key"), 0600u);
  const CertInfo cert =
      InspectCertificate(ReadFile(identity + "/cert.pem").value()).value();
  EXPECT_EQ(cert.role, "worker");

  CliRun run =
      RunCli({"submit", "--coordinator", address_, "--token-file",
              state_dir_ + "/token", "--tls-ca", state_dir_ + "/pki/ca.crt",
              "primes", "--to", "1000000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Strip(run.out), kPrimesTo1e6);

  // Restarted with no --coordinator, no --join, no token: the identity
  // directory is enough.
  workers_[0]->Stop(absl::Seconds(5));
  StartWorker(identity, "");
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  EXPECT_THAT(WorkerLog(1), HasSubstr("registered with " + address_));
}

// Under a service manager the token comes from a file (deploy/systemd's
// LoadCredential=): read for the first start only, so it may go later.
TEST_F(PkiTest, WorkerJoinsWithATokenFileThatMayGoAfterwards) {
  const std::string identity = root_ + "/worker-identity";
  const std::string token_file = root_ + "/join-token";
  ASSERT_TRUE(WriteFileAtomically(token_file, CreateToken("worker") + "\n").ok());
  StartWorker(identity, "",
              {"--coordinator=" + address_, "--join-file=" + token_file});
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  workers_[0]->Stop(absl::Seconds(5));

  ASSERT_EQ(unlink(token_file.c_str()), 0);
  StartWorker(identity, "", {"--join-file=" + token_file});
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  EXPECT_THAT(WorkerLog(1), HasSubstr("registered with " + address_));
}

TEST_F(PkiTest, AnEmptyJoinFileWithNoIdentityNamesTheFix) {
  const std::string token_file = root_ + "/join-token";
  ASSERT_TRUE(WriteFileAtomically(token_file, "").ok());  // systemd's fallback
  const int w = StartWorker(root_ + "/no-identity", "",
                            {"--coordinator=" + address_,
                             "--join-file=" + token_file});
  ExpectWorkerGivesUp(w, "shardex token create --role worker");
}

// A minimal host (a container, a debootstrap root) has no system root
// certificates; joining must not need them: the token's fingerprint is the
// trust. The worker runs in a mount namespace where /etc/ssl and gRPC's
// bundled roots are empty.
TEST_F(PkiTest, WorkerJoinsOnAHostWithoutSystemRootCertificates) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace)";
  const std::string identity = root_ + "/worker-identity";
  Subprocess::Options opts;
  opts.stdout_file = opts.stderr_file = root_ + "/bare-worker.log";
  std::vector<std::string> argv = {
      "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
      "mount -t tmpfs none /etc/ssl && "
      "{ [ ! -d /usr/share/grpc ] || mount -t tmpfs none /usr/share/grpc; } && "
      "[ -z \"$(ls /etc/ssl)\" ] && exec \"$@\"",
      "sh", ShardexBinary(), "worker", "--threads=1",
      "--identity-dir=" + identity, "--name=bare",
      "--coordinator=" + address_, "--join=" + CreateToken("worker")};
  std::unique_ptr<Subprocess> worker = Subprocess::Start(argv, opts).value();
  auto client = OperatorClient();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool registered = false;
  while (!registered && absl::Now() < deadline) {
    auto workers = client->ListWorkers();
    registered = workers.ok() && !workers->empty();
    if (!registered) absl::SleepFor(absl::Milliseconds(50));
  }
  worker->Stop(absl::Seconds(5));
  EXPECT_TRUE(registered) << ReadFile(opts.stderr_file).value_or("");
}

TEST_F(PkiTest, LoginThenSubmitWithNoFlags) {
  CliRun login = Login(CreateToken("client"));
  ASSERT_EQ(login.exit_code, 0) << login.err;
  const std::string config = root_ + "/config/shardex";
  EXPECT_EQ(ModeOf(config + "/key.pem"), 0600u);
  EXPECT_EQ(ModeOf(config + "/config"), 0600u);
  StartWorker(root_ + "/w", CreateToken("worker"));
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));

  CliRun run = RunCli({"submit", "primes", "--to", "1000000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Strip(run.out), kPrimesTo1e6);
  CliRun workers = RunCli({"workers"});
  EXPECT_EQ(workers.exit_code, 0) << workers.err;
}

TEST_F(PkiTest, WrongFingerprintIsRefusedBeforeAnythingIsSent) {
  std::string token = CreateToken("client");
  const std::string real = token.substr(7, 64);
  const std::string other(64, real[0] == '0' ? '1' : '0');
  token.replace(7, 64, other);
  CliRun login = Login(token);
  EXPECT_EQ(login.exit_code, 2) << login.err;
  EXPECT_THAT(login.err, HasSubstr(real));
  EXPECT_THAT(login.err, HasSubstr(other));
  EXPECT_EQ(ModeOf(root_ + "/config/shardex/key.pem"), 0u);  // never made
  // The token was not used: it still works.
  token.replace(7, 64, real);
  EXPECT_EQ(Login(token).exit_code, 0);
}

TEST_F(PkiTest, ExpiredTokenIsRefused) {
  const std::string token = CreateToken("client", {"--ttl", "1s"});
  absl::SleepFor(absl::Milliseconds(2100));
  CliRun login = Login(token);
  EXPECT_EQ(login.exit_code, 2) << login.err;
  EXPECT_THAT(login.err, HasSubstr("expired"));
}

TEST_F(PkiTest, RevokedTokenIsRefusedAtOnce) {
  const std::string token = CreateToken("worker");
  const std::string id = token.substr(7 + 64 + 1, 8);
  CliRun revoke = RunCli({"token", "revoke", id, "--state-dir", state_dir_});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  const int w = StartWorker(root_ + "/w", token);
  ExpectWorkerGivesUp(w, "was revoked");
  CliRun list = RunCli({"token", "list", "--state-dir", state_dir_});
  EXPECT_THAT(list.out, HasSubstr("revoked"));
}

TEST_F(PkiTest, OneUseTokenCannotBeUsedTwice) {
  const std::string token = CreateToken("client", {"--uses", "1"});
  ASSERT_EQ(Login(token).exit_code, 0);
  CliRun again = Login(token);
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_THAT(again.err, HasSubstr("used 1 time, its limit"));
}

TEST_F(PkiTest, ATokenForClientsDoesNotMakeAWorker) {
  const int w = StartWorker(root_ + "/w", CreateToken("client"));
  ExpectWorkerGivesUp(w, "is for a client, not a worker");
}

TEST_F(PkiTest, RevokedCertificatesAreRefusedAtTheNextCall) {
  ASSERT_EQ(Login(CreateToken("client")).exit_code, 0);
  const std::string identity = root_ + "/w";
  StartWorker(identity, CreateToken("worker"));
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  ASSERT_EQ(RunCli({"jobs"}).exit_code, 0);

  // The client's certificate: refused from the next call on, no restart.
  ASSERT_EQ(
      RunCli({"cert", "revoke", SerialOf("client"), "--state-dir", state_dir_})
          .exit_code,
      0);
  CliRun jobs = RunCli({"jobs"});
  EXPECT_EQ(jobs.exit_code, 2) << jobs.err;
  EXPECT_THAT(jobs.err, HasSubstr("was revoked"));

  // The worker's: it cannot reconnect.
  ASSERT_EQ(
      RunCli({"cert", "revoke", SerialOf("worker"), "--state-dir", state_dir_})
          .exit_code,
      0);
  workers_[0]->Stop(absl::Seconds(5));
  const int again = StartWorker(identity, "");
  ExpectWorkerGivesUp(again, "was revoked");
}

// Revoking the certificate of a worker that is connected ends its open
// session (the coordinator checks a session's access again about once a
// second), not only its next reconnect: the worker stops with exit 2.
TEST_F(PkiTest, RevokingAConnectedWorkersCertificateEndsItsSession) {
  StartWorker(root_ + "/w", CreateToken("worker"));
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  ASSERT_EQ(
      RunCli({"cert", "revoke", SerialOf("worker"), "--state-dir", state_dir_})
          .exit_code,
      0);
  ExpectWorkerGivesUp(0, "was revoked");
  auto workers = OperatorClient()->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_TRUE(workers->empty()) << "the revoked worker is still listed";
}

TEST_F(PkiTest, ClientCertificateCannotServeAsAWorker) {
  ASSERT_EQ(Login(CreateToken("client")).exit_code, 0);
  const std::string config = root_ + "/config/shardex";
  const int w = StartWorker(
      root_ + "/unused", "",
      {"--coordinator=" + address_, "--tls-ca=" + config + "/ca.pem",
       "--tls-cert=" + config + "/cert.pem",
       "--tls-key=" + config + "/key.pem"});
  ExpectWorkerGivesUp(w, "needs a worker certificate");
}

// Certificates of 15 s (plus a 1.5 s backdate): renewed with a third of
// their life, 5.5 s, left. The test times its steps from the certificates'
// own end, so a slow machine (ASan) cannot push the CLI past expiry.
class PkiRenewalTest : public PkiTest {
 protected:
  PkiRenewalTest() { coordinator_flags_ = {"--cert-ttl=15s"}; }
};

std::optional<CertInfo> CertIn(const std::string& cert_file) {
  absl::StatusOr<std::string> pem = ReadFile(cert_file);
  if (!pem.ok()) return std::nullopt;
  absl::StatusOr<CertInfo> info = InspectCertificate(*pem);
  if (!info.ok()) return std::nullopt;
  return *std::move(info);
}

std::string SerialIn(const std::string& cert_file) {
  std::optional<CertInfo> info = CertIn(cert_file);
  return info ? info->serial_hex : "";
}

TEST_F(PkiRenewalTest, WorkerRenewsInTheBackgroundAndTheCliOnUse) {
  ASSERT_EQ(Login(CreateToken("client")).exit_code, 0);
  const std::string client_cert = root_ + "/config/shardex/cert.pem";
  const std::string worker_cert = root_ + "/w/cert.pem";
  StartWorker(root_ + "/w", CreateToken("worker"));
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  const std::optional<CertInfo> client = CertIn(client_cert);
  const std::optional<CertInfo> worker = CertIn(worker_cert);
  ASSERT_TRUE(client && worker);

  // The CLI renews on use once less than a third is left: use it with 4 s
  // of the first certificate left.
  absl::SleepFor(client->not_after - absl::Seconds(4) - absl::Now());
  CliRun jobs = RunCli({"jobs"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.err;
  EXPECT_NE(SerialIn(client_cert), client->serial_hex) << "CLI did not renew";

  // The worker renews on its own before its first certificate ends.
  while (absl::Now() < worker->not_after &&
         SerialIn(worker_cert) == worker->serial_hex) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_NE(SerialIn(worker_cert), worker->serial_hex)
      << "worker did not renew before its certificate ended";

  // Past the first certificates' end: the renewed ones are what work.
  absl::SleepFor(std::max(client->not_after, worker->not_after) +
                 absl::Seconds(1) - absl::Now());
  workers_[0]->Stop(absl::Seconds(5));
  StartWorker(root_ + "/w", "");
  ASSERT_NO_FATAL_FAILURE(WaitForWorkers(1));
  CliRun run = RunCli({"submit", "primes", "--to", "1000000"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Strip(run.out), kPrimesTo1e6);
}

}  // namespace
}  // namespace shardex
