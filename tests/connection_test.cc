// Dead links and health, through a real coordinator on 127.0.0.1: a watch
// whose connection goes half-open (a TcpProxy that black-holes it) must
// not hang: it finishes once the link comes back, or fails clearly within
// the client's retry window; `shardex watch` exits 3 with a clear message;
// `shardex health` answers per service. Waits are bounded: a watch that
// hangs fails an assertion, and the proxy's destructor then releases it.
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/tcp_proxy.h"
#include "tests/test_cluster.h"

namespace shardex {
namespace {

using JobWatch = std::future<absl::StatusOr<v1::JobStatus>>;

int PortOf(const std::string& address) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
  return port;
}

// A cluster without workers (so jobs wait until the test adds one), a
// pending job, a proxy to the coordinator, and a watch of the job through
// the proxy. Members are destroyed bottom up: the watch ends first.
struct DeadLinkSetup {
  std::unique_ptr<TestCluster> cluster;
  std::unique_ptr<TcpProxy> proxy;
  uint64_t job_id = 0;
  std::unique_ptr<CoordinatorClient> client;
  JobWatch watch;

  // Starts client->Watch(job) through the proxy on another thread; true
  // once the first status has arrived (false if none within 30 s).
  bool StartWatch(absl::Duration retry_for);
  // Whether the watch ends within `bound_seconds`. If not, closes the
  // proxy's sockets, which releases the hung watch so the test can end.
  bool WatchEndsWithin(int bound_seconds);
};

DeadLinkSetup SetUpDeadLink() {
  DeadLinkSetup s;
  auto cluster = TestCluster::Start();
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  if (!cluster.ok()) return s;
  s.cluster = std::move(cluster).value();
  v1::JobSpec spec;
  spec.set_kernel("primes");
  (*spec.mutable_args())["to"] = "1000000";
  absl::StatusOr<v1::JobStatus> job = s.cluster->client().Submit(spec);
  EXPECT_TRUE(job.ok()) << job.status();
  if (job.ok()) s.job_id = job->job_id();
  auto proxy = TcpProxy::Start(PortOf(s.cluster->address()));
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  if (proxy.ok()) s.proxy = std::move(proxy).value();
  return s;
}

bool DeadLinkSetup::StartWatch(absl::Duration retry_for) {
  if (proxy == nullptr) return false;
  ClientOptions o;
  o.coordinator = absl::StrCat("127.0.0.1:", proxy->port());
  o.token = std::string(
      absl::StripAsciiWhitespace(ReadFile(cluster->token_file()).value_or("")));
  o.retry_for = retry_for;
  client = std::make_unique<CoordinatorClient>(o);
  auto seen = std::make_shared<std::atomic<int>>(0);
  watch = std::async(std::launch::async, [c = client.get(), id = job_id, seen] {
    return c->Watch(id, [seen](const v1::JobStatus&) { ++*seen; });
  });
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (*seen == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return *seen > 0;
}

bool DeadLinkSetup::WatchEndsWithin(int bound_seconds) {
  const bool ended = watch.wait_for(std::chrono::seconds(bound_seconds)) ==
                     std::future_status::ready;
  if (!ended) proxy.reset();
  return ended;
}

TEST(ConnectionTest, WatchOverAHalfOpenLinkFinishesAfterTheLinkReturns) {
  DeadLinkSetup s = SetUpDeadLink();
  ASSERT_TRUE(s.StartWatch(absl::Seconds(60)));
  s.proxy->BlackHole();  // the watch's connection is now half-open for good
  absl::SleepFor(absl::Seconds(2));
  s.proxy->Restore();  // new connections get through again
  ASSERT_TRUE(s.cluster->AddWorker(1).ok());  // now the job can finish
  const absl::Time start = absl::Now();
  ASSERT_TRUE(s.WatchEndsWithin(60))
      << "the watch hung on the half-open connection";
  absl::StatusOr<v1::JobStatus> status = s.watch.get();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::JOB_SUCCEEDED);
  std::cerr << "watch finished " << (absl::Now() - start)
            << " after the link came back\n";
}

TEST(ConnectionTest, WatchOverADeadLinkFailsClearlyWithinTheRetryWindow) {
  DeadLinkSetup s = SetUpDeadLink();
  ASSERT_TRUE(s.StartWatch(absl::Seconds(5)));
  const absl::Time start = absl::Now();
  s.proxy->BlackHole();
  ASSERT_TRUE(s.WatchEndsWithin(90))
      << "the watch hung on the half-open connection";
  absl::StatusOr<v1::JobStatus> status = s.watch.get();
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.status().message().find("cannot reach the coordinator"),
            std::string::npos)
      << status.status();
  std::cerr << "dead link reported after " << (absl::Now() - start) << "\n";
}

TEST(ConnectionTest, WatchCommandExitsThreeWhenTheLinkStaysDead) {
  DeadLinkSetup s = SetUpDeadLink();
  ASSERT_NE(s.proxy, nullptr);
  auto watch = BackgroundCli::Start(
      {"watch", "--coordinator", absl::StrCat("127.0.0.1:", s.proxy->port()),
       "--token-file", s.cluster->token_file(), absl::StrCat(s.job_id)});
  ASSERT_TRUE(watch.ok());
  absl::SleepFor(absl::Seconds(2));  // the watch stream is up
  s.proxy->BlackHole();
  CliRun run = (*watch)->Finish(absl::Seconds(120));
  EXPECT_EQ(run.exit_code, 3) << run.err;  // -1: still hanging, killed
  EXPECT_NE(run.err.find("cannot reach the coordinator"), std::string::npos)
      << run.err;
}

TEST(ConnectionTest, HealthAnswersPerServiceWithoutAToken) {
  auto c = TestCluster::Start();
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string at = "--coordinator=" + (*c)->address();
  for (const std::string& service :
       {std::string(), std::string("shardex.v1.Coordinator"),
        std::string("shardex.v1.WorkerGateway")}) {
    std::vector<std::string> argv = {"health", at};
    if (!service.empty()) argv.push_back("--service=" + service);
    CliRun run = RunCli(argv);
    EXPECT_EQ(run.exit_code, 0) << service << ": " << run.err;
    EXPECT_NE(run.out.find("SERVING"), std::string::npos) << run.out;
  }
  CliRun unknown = RunCli({"health", at, "--service=shardex.v1.Nope"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("no service named shardex.v1.Nope"),
            std::string::npos)
      << unknown.err;
  (*c)->Shutdown();
  CliRun down = RunCli({"health", at});
  EXPECT_EQ(down.exit_code, 3) << down.err;
  EXPECT_NE(down.err.find("cannot reach the coordinator"), std::string::npos)
      << down.err;
}

}  // namespace
}  // namespace shardex
