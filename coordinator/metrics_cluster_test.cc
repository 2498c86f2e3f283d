// /metrics of a real cluster (tests/test_cluster.h): the coordinator with
// --http-listen runs a job on a worker; the scrape needs the token, passes
// `promtool check metrics`, and a real Prometheus scraping it every second
// answers a PromQL query with the job's number of shards.
//
// promtool and prometheus come from Debian's `prometheus` package, unpacked
// without its service by scripts/setup.sh into
// $HOME/.cache/shardex/prometheus; the tests skip, naming that, without it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

constexpr int kShards = 8;

std::string PrometheusDir() {
  const char* home = std::getenv("HOME");
  return absl::StrCat(home == nullptr ? "" : home,
                      "/.cache/shardex/prometheus/usr/bin");
}

constexpr char kSetupHint[] =
    "Debian's prometheus package is not unpacked in "
    "$HOME/.cache/shardex/prometheus (run scripts/setup.sh)";

// A port no one listens on now (the kernel's choice, released at once).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:port<target>, HTTP/1.1 with Connection: close.
HttpReply HttpGet(int port, const std::string& target,
                  const std::string& token) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  absl::Cleanup closer = [fd] { close(fd); };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return reply;
  }
  std::string request = absl::StrCat("GET ", target,
                                     " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  if (!token.empty()) absl::StrAppend(&request, "Authorization: Bearer ", token, "\r\n");
  request += "Connection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) !=
      static_cast<ssize_t>(request.size())) {
    return reply;
  }
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) raw.append(buf, n);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  const size_t space = raw.find(' ');
  const size_t end = raw.find("\r\n\r\n");
  if (space == std::string::npos || end == std::string::npos ||
      !absl::SimpleAtoi(raw.substr(space + 1, 3), &reply.status)) {
    return reply;
  }
  reply.body = raw.substr(end + 4);
  return reply;
}

// Runs a shell command line; its exit code (-1 if it did not finish), with
// stdout and stderr in `*output`.
int RunShell(const std::string& line, const std::string& log,
             std::string* output) {
  Subprocess::Options options;
  options.stdout_file = log;
  options.stderr_file = log;
  absl::StatusOr<std::unique_ptr<Subprocess>> p =
      Subprocess::Start({"/bin/sh", "-c", line}, options);
  if (!p.ok()) return -1;
  absl::StatusOr<int> status = (*p)->Wait(absl::Seconds(60));
  *output = ReadFile(log).value_or("");
  if (!status.ok()) {
    (*p)->Stop(absl::Seconds(1));
    return -1;
  }
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

class MetricsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http_port_ = FreePort();
    ASSERT_NE(http_port_, 0);
    absl::StatusOr<std::unique_ptr<TestCluster>> c = TestCluster::Start(
        {"--http-listen", absl::StrCat("127.0.0.1:", http_port_)});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = *std::move(c);
    ASSERT_TRUE(cluster_->AddWorker(2).ok());
    ASSERT_TRUE(cluster_->WaitForWorkers(1).ok()) << cluster_->LogTails();
    absl::StatusOr<std::string> token = ReadFile(cluster_->token_file());
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = std::string(absl::StripAsciiWhitespace(*token));
  }

  void RunJob() {
    CliRun run = cluster_->Cli(
        "submit", {"--shards", absl::StrCat(kShards), "primes", "--to",
                   "1000000"});
    ASSERT_EQ(run.exit_code, 0) << run.err << cluster_->LogTails();
    EXPECT_EQ(std::string(absl::StripAsciiWhitespace(run.out)), "78498");
  }

  int http_port_ = 0;
  std::unique_ptr<TestCluster> cluster_;
  std::string token_;
};

TEST_F(MetricsClusterTest, ScrapeNeedsTheTokenAndPassesPromtool) {
  RunJob();
  HttpReply denied = HttpGet(http_port_, "/metrics", "");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.body.find("shardex_"), std::string::npos);
  EXPECT_EQ(HttpGet(http_port_, "/metrics", "wrong-token-0123456789").status,
            401);
  // A gRPC call with a wrong token is counted by its code.
  const std::string wrong = cluster_->dir() + "/wrong_token";
  ASSERT_TRUE(WriteFileAtomically(wrong, std::string(64, 'f') + "\n").ok());
  ASSERT_EQ(chmod(wrong.c_str(), 0600), 0);
  CliRun bad = RunCli({"workers", "--coordinator=" + cluster_->address(),
                       "--token-file", wrong});
  EXPECT_NE(bad.exit_code, 0) << bad.out;

  HttpReply scrape = HttpGet(http_port_, "/metrics", token_);
  ASSERT_EQ(scrape.status, 200) << scrape.body;
  EXPECT_NE(scrape.body.find(absl::StrCat(
                "shardex_shards_completed_total{outcome=\"succeeded\"} ",
                kShards, "\n")),
            std::string::npos)
      << scrape.body;
  EXPECT_NE(scrape.body.find("shardex_workers{state=\"connected\"} 1\n"),
            std::string::npos);
  EXPECT_NE(scrape.body.find("shardex_slots 2\n"), std::string::npos);
  EXPECT_NE(scrape.body.find(absl::StrCat(
                "shardex_shard_duration_seconds_count ", kShards, "\n")),
            std::string::npos);
  EXPECT_EQ(scrape.body.find(token_), std::string::npos);
  EXPECT_EQ(scrape.body.find(
                "shardex_rpc_errors_total{code=\"UNAUTHENTICATED\"} 0\n"),
            std::string::npos)
      << scrape.body;
  EXPECT_NE(scrape.body.find("shardex_rpc_errors_total{code=\"UNAUTHENTICATED\"} "),
            std::string::npos);

  // The worker's host stats arrive with its heartbeats.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (scrape.body.find("shardex_worker_memory_bytes{kind=\"total\"} 0\n") !=
             std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    scrape = HttpGet(http_port_, "/metrics", token_);
  }
  EXPECT_EQ(scrape.body.find("shardex_worker_memory_bytes{kind=\"total\"} 0\n"),
            std::string::npos)
      << scrape.body;

  const std::string promtool = PrometheusDir() + "/promtool";
  if (access(promtool.c_str(), X_OK) != 0) GTEST_SKIP() << kSetupHint;
  const std::string file = cluster_->dir() + "/metrics.txt";
  ASSERT_TRUE(WriteFileAtomically(file, scrape.body).ok());
  std::string output;
  EXPECT_EQ(RunShell(absl::StrCat(promtool, " check metrics < ", file),
                     cluster_->dir() + "/promtool.log", &output),
            0)
      << output;
}

// The value of the first sample in a /api/v1/query answer, e.g.
// {"status":"success","data":{"resultType":"vector","result":[{"metric":
// {...},"value":[1700000000.123,"8"]}]}}; -1 if there is none.
double FirstSampleValue(const std::string& json) {
  const size_t value = json.find("\"value\":[");
  if (value == std::string::npos) return -1;
  const size_t open = json.find('"', json.find(',', value));
  const size_t close = json.find('"', open + 1);
  double v = -1;
  if (open == std::string::npos || close == std::string::npos ||
      !absl::SimpleAtod(json.substr(open + 1, close - open - 1), &v)) {
    return -1;
  }
  return v;
}

TEST_F(MetricsClusterTest, PrometheusScrapesCompletedShards) {
  const std::string prometheus = PrometheusDir() + "/prometheus";
  if (access(prometheus.c_str(), X_OK) != 0) GTEST_SKIP() << kSetupHint;
  RunJob();

  const std::string dir = cluster_->dir() + "/prometheus";
  ASSERT_TRUE(MakeDirs(dir + "/data", 0700, "Prometheus storage").ok());
  const std::string config = dir + "/prometheus.yml";
  ASSERT_TRUE(WriteFileAtomically(
                  config,
                  absl::StrCat("global:\n"
                               "  scrape_interval: 1s\n"
                               "scrape_configs:\n"
                               "  - job_name: shardex\n"
                               "    scrape_interval: 1s\n"
                               "    authorization:\n"
                               "      credentials_file: ",
                               cluster_->token_file(),
                               "\n"
                               "    static_configs:\n"
                               "      - targets: ['127.0.0.1:",
                               http_port_, "']\n"))
                  .ok());
  const int web_port = FreePort();
  ASSERT_NE(web_port, 0);
  Subprocess::Options options;
  options.stdout_file = dir + "/prometheus.log";
  options.stderr_file = dir + "/prometheus.log";
  absl::StatusOr<std::unique_ptr<Subprocess>> server = Subprocess::Start(
      {prometheus, absl::StrCat("--config.file=", config),
       absl::StrCat("--storage.tsdb.path=", dir, "/data"),
       absl::StrCat("--web.listen-address=127.0.0.1:", web_port)},
      options);
  ASSERT_TRUE(server.ok()) << server.status();
  absl::Cleanup stop = [&] { (*server)->Stop(absl::Seconds(5)); };

  const std::string query =
      "/api/v1/query?query=shardex_shards_completed_total%7Boutcome%3D%22"
      "succeeded%22%7D";
  double value = -1;
  std::string last;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && (*server)->running()) {
    HttpReply reply = HttpGet(web_port, query, "");
    last = reply.body;
    value = FirstSampleValue(reply.body);
    if (reply.status == 200 && value >= 0) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(value, kShards)
      << "last answer: " << last << "\n"
      << ReadFile(dir + "/prometheus.log").value_or("(no log)");
}

}  // namespace
}  // namespace shardex
