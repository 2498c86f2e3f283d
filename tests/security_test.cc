// Security end to end, through real coordinator and worker processes on
// 127.0.0.1: every RPC refuses a missing, wrong or wrongly-cased token; the
// token never shows in logs, outputs or command lines; TLS with throwaway
// certificates made by `openssl` at test time, a plaintext client against a
// TLS port, a worker without a client certificate against a mutual-TLS
// coordinator; and the listen-address rule. After each refusal the
// coordinator still runs a normal job correctly.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/shardex.grpc.pb.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

std::string TestDir(const std::string& name) {
  const std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
  mkdir(dir.c_str(), 0700);
  return dir;
}

void WriteFile(const std::string& path, const std::string& text, int mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

// The cluster still runs a job correctly (after a refused call, say).
void ExpectStillServes(TestCluster& c) {
  CliRun run = c.Cli("submit", {"primes", "--to", "1e6"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Trim(run.out), "78498");
}

// Every RPC of both services, called with `token` ("" = none) over
// `credentials`; returns their status codes.
std::vector<grpc::StatusCode> CallEverything(
    const std::string& address, const std::string& token,
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials()) {
  auto channel = grpc::CreateChannel(address, credentials);
  auto stub = v1::Coordinator::NewStub(channel);
  auto gateway = v1::WorkerGateway::NewStub(channel);
  auto prepare = [&](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  };
  std::vector<grpc::StatusCode> codes;
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::SubmitJobRequest req;
    req.mutable_spec()->set_kernel("primes");
    (*req.mutable_spec()->mutable_args())["to"] = "100";
    v1::SubmitJobResponse resp;
    codes.push_back(stub->SubmitJob(&ctx, req, &resp).error_code());
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::GetJobRequest req;
    req.set_job_id(1);
    v1::JobStatus resp;
    codes.push_back(stub->GetJob(&ctx, req, &resp).error_code());
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::WatchJobRequest req;
    req.set_job_id(1);
    auto reader = stub->WatchJob(&ctx, req);
    v1::JobStatus s;
    while (reader->Read(&s)) {
    }
    codes.push_back(reader->Finish().error_code());
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::CancelJobRequest req;
    req.set_job_id(1);
    v1::CancelJobResponse resp;
    codes.push_back(stub->CancelJob(&ctx, req, &resp).error_code());
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::ListJobsResponse resp;
    codes.push_back(
        stub->ListJobs(&ctx, v1::ListJobsRequest(), &resp).error_code());
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    v1::ListWorkersResponse resp;
    codes.push_back(
        stub->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp).error_code());
  }
  {
    grpc::ClientContext ctx;
    prepare(&ctx);
    auto stream = gateway->Session(&ctx);
    v1::WorkerMessage hello;
    hello.mutable_register_()->set_host("intruder");
    hello.mutable_register_()->set_slots(1);
    stream->Write(hello);
    v1::CoordinatorMessage in;
    bool registered = false;
    while (!registered && stream->Read(&in)) registered = in.has_registered();
    if (registered) {  // let in: end the session ourselves
      stream->WritesDone();
      ctx.TryCancel();
    }
    grpc::Status st = stream->Finish();
    codes.push_back(registered ? grpc::StatusCode::OK : st.error_code());
  }
  return codes;
}

std::unique_ptr<TestCluster> StartCluster(
    std::vector<std::string> flags = {}, TlsFiles client_tls = {}) {
  auto c = TestCluster::Start(std::move(flags), std::move(client_tls));
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  EXPECT_TRUE((*c)->AddWorker(2).ok());
  EXPECT_TRUE((*c)->WaitForWorkers(1).ok());
  return std::move(c).value();
}

std::string Token(const TestCluster& c) {
  return Trim(ReadFile(c.token_file()).value_or(""));
}

TEST(SecurityTest, TokenFileIsCreatedPrivate) {
  auto c = StartCluster();
  ASSERT_NE(c, nullptr);
  struct stat st;
  ASSERT_EQ(stat(c->token_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Token(*c).size(), 64u);
}

TEST(SecurityTest, EveryCallWithoutTheRightTokenIsRefused) {
  auto c = StartCluster();
  ASSERT_NE(c, nullptr);
  const std::string token = Token(*c);
  std::string upper = token;
  absl::AsciiStrToUpper(&upper);
  ASSERT_NE(upper, token);
  for (const std::string& bad :
       {std::string(), std::string("wrong-token-0123456789"), upper,
        token.substr(0, token.size() - 1)}) {
    for (grpc::StatusCode code : CallEverything(c->address(), bad)) {
      EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << "token " << bad;
    }
    ExpectStillServes(*c);
  }
  // The right token opens every door (GetJob 1 exists after the jobs above;
  // cancelling an ended job is refused for what it is, not for the token).
  std::vector<grpc::StatusCode> ok = CallEverything(c->address(), token);
  EXPECT_EQ(ok[0], grpc::StatusCode::OK);
  EXPECT_EQ(ok[1], grpc::StatusCode::OK);
  EXPECT_EQ(ok[3], grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ok[4], grpc::StatusCode::OK);
  EXPECT_EQ(ok[5], grpc::StatusCode::OK);
  EXPECT_EQ(ok[6], grpc::StatusCode::OK);
}

TEST(SecurityTest, CliAndWorkerWithAWrongTokenSayHowToPassOne) {
  auto c = StartCluster();
  ASSERT_NE(c, nullptr);
  const std::string wrong = TestDir("wrong") + "/token";
  WriteFile(wrong, "0123456789abcdef0123456789abcdef\n", 0600);
  CliRun run = RunCli({"jobs", "--coordinator=" + c->address(),
                       "--token-file=" + wrong});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("refused the call"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--token-file"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("SHARDEX_TOKEN_FILE"), std::string::npos) << run.err;
  // A token file others can read is refused before any call.
  const std::string open = TestDir("open") + "/token";
  WriteFile(open, Token(*c) + "\n", 0644);
  run = RunCli({"jobs", "--coordinator=" + c->address(),
                "--token-file=" + open});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("chmod 600"), std::string::npos) << run.err;
  // A worker with the wrong token gives up with the reason, exit 2.
  auto worker = BackgroundCli::Start({"worker", "--coordinator=" + c->address(),
                                      "--token-file=" + wrong});
  ASSERT_TRUE(worker.ok());
  CliRun w = (*worker)->Finish(absl::Seconds(30));
  EXPECT_EQ(w.exit_code, 2) << w.err;
  EXPECT_NE(w.err.find("token does not match"), std::string::npos) << w.err;
  ExpectStillServes(*c);
}

TEST(SecurityTest, TokenNeverShowsInLogsOutputsOrCommandLines) {
  auto c = StartCluster({"--allow-commands"});
  ASSERT_NE(c, nullptr);
  const std::string token = Token(*c);
  ExpectStillServes(*c);
  CliRun fail = c->Cli("submit", {"--shards", "2", "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(fail.exit_code, 1);
  CliRun status = c->Cli("status", {"--json", "2"});
  CliRun workers = c->Cli("workers", {"--json"});
  CliRun jobs = c->Cli("jobs", {});
  for (const CliRun* run : {&fail, &status, &workers, &jobs}) {
    EXPECT_EQ(run->out.find(token), std::string::npos);
    EXPECT_EQ(run->err.find(token), std::string::npos);
  }
  // Command lines of every process of the cluster.
  for (const ClusterProcess& p : c->Processes()) {
    EXPECT_EQ(p.cmdline.find(token), std::string::npos) << p.Describe();
  }
  c->Shutdown();
  for (const std::string& log :
       {std::string("/coordinator.log"), std::string("/worker-0.log")}) {
    const std::string text = ReadFile(c->dir() + log).value_or("");
    EXPECT_FALSE(text.empty()) << log;
    EXPECT_EQ(text.find(token), std::string::npos) << log;
  }
}

// Throwaway certificates: a CA, a server certificate for 127.0.0.1 and a
// client certificate, all signed by the CA.
class Certificates {
 public:
  static std::unique_ptr<Certificates> Make(const std::string& dir) {
    const std::string script = absl::StrCat(
        "set -e; cd ", dir, "; ",
        "printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext; ",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=shardex-test-ca "
        "2>/dev/null; ",
        "for n in server client; do "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null; "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out $n.pem -days 1 "
        "$( [ $n = server ] && echo -extfile server.ext ) 2>/dev/null; done");
    if (system(script.c_str()) != 0) return nullptr;
    auto c = std::make_unique<Certificates>();
    c->dir = dir;
    return c;
  }
  std::string path(const std::string& name) const {
    return dir + "/" + name;
  }
  std::string dir;
};

TEST(SecurityTest, TlsEndToEndAndPlaintextAgainstATlsPort) {
  auto certs = Certificates::Make(TestDir("tls"));
  ASSERT_NE(certs, nullptr) << "openssl failed";
  TlsFiles client;
  client.ca = certs->path("ca.pem");
  auto c = StartCluster({"--tls-cert=" + certs->path("server.pem"),
                         "--tls-key=" + certs->path("server.key")},
                        client);
  ASSERT_NE(c, nullptr);
  ExpectStillServes(*c);  // worker and CLI over TLS
  // Plaintext against the TLS port: no call gets through.
  for (grpc::StatusCode code : CallEverything(c->address(), Token(*c))) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  }
  CliRun plain = RunCli({"jobs", "--coordinator=" + c->address(),
                         "--token-file=" + c->token_file()});
  EXPECT_EQ(plain.exit_code, 3) << plain.err;
  // TLS still needs the token.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFile(certs->path("ca.pem")).value_or("");
  for (grpc::StatusCode code :
       CallEverything(c->address(), "", grpc::SslCredentials(tls))) {
    EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED);
  }
  ExpectStillServes(*c);
}

TEST(SecurityTest, MutualTlsRefusesAWorkerWithoutAClientCertificate) {
  auto certs = Certificates::Make(TestDir("mtls"));
  ASSERT_NE(certs, nullptr) << "openssl failed";
  TlsFiles client;
  client.ca = certs->path("ca.pem");
  client.cert = certs->path("client.pem");
  client.key = certs->path("client.key");
  auto c = StartCluster({"--tls-cert=" + certs->path("server.pem"),
                         "--tls-key=" + certs->path("server.key"),
                         "--tls-ca=" + certs->path("ca.pem")},
                        client);
  ASSERT_NE(c, nullptr);
  ExpectStillServes(*c);  // worker and CLI with client certificates
  // TLS with the right CA and token, but no client certificate.
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = ReadFile(certs->path("ca.pem")).value_or("");
  for (grpc::StatusCode code : CallEverything(
           c->address(), Token(*c), grpc::SslCredentials(no_cert))) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  }
  // A worker process without one never registers: it gives up (exit 2)
  // naming the missing certificate (tests/tls_errors_test.cc has the rest).
  const size_t before = c->client().ListWorkers()->size();
  auto worker = BackgroundCli::Start(
      {"worker", "--coordinator=" + c->address(),
       "--token-file=" + c->token_file(), "--tls-ca=" + certs->path("ca.pem")});
  ASSERT_TRUE(worker.ok());
  CliRun w = (*worker)->Finish(absl::Seconds(60));
  EXPECT_EQ(w.exit_code, 2) << w.err;
  EXPECT_NE(w.err.find("requires a client certificate"), std::string::npos)
      << w.err;
  EXPECT_EQ(c->client().ListWorkers()->size(), before);
  ExpectStillServes(*c);
}

TEST(SecurityTest, NonLoopbackWithoutTlsNeedsInsecure) {
  // Refused before anything is bound: no socket beyond loopback is opened.
  // (By default the built-in CA would serve TLS here: tests/pki_test.cc.)
  CliRun run = RunCli({"coordinator", "--listen=0.0.0.0:0", "--no-builtin-ca",
                       "--state-dir=" + TestDir("open-listen")});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--insecure"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--tls-cert"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace shardex
