// HealthServer and --health-listen, through real gRPC health clients over
// plaintext on 127.0.0.1: SERVING while the coordinator serves,
// NOT_SERVING once told, nothing but health on that port, and the port
// gone once the coordinator has shut down.
#include "coordinator/health_server.h"

#include <future>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "common/clock.h"
#include "coordinator/server.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

// A plaintext client of 127.0.0.1:port that gives up quickly.
CoordinatorClient ClientOf(int port) {
  ClientOptions options;
  options.coordinator = absl::StrCat("127.0.0.1:", port);
  options.deadline = absl::Seconds(5);
  options.retry_for = absl::Seconds(1);
  return CoordinatorClient(options);
}

// The status of one call of `method` with an empty message, whatever the
// service behind it.
grpc::Status CallAny(int port, const std::string& method) {
  grpc::GenericStub stub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status st) { done.set_value(st); });
  return done.get_future().get();
}

TEST(HealthServerTest, AnswersServingThenNotServing) {
  absl::StatusOr<std::unique_ptr<HealthServer>> health =
      HealthServer::Start("127.0.0.1:0", {"shardex.v1.Coordinator"});
  ASSERT_TRUE(health.ok()) << health.status();
  CoordinatorClient client = ClientOf((*health)->port());
  absl::Status before = client.CheckHealth("");
  EXPECT_EQ(before.code(), absl::StatusCode::kUnavailable) << before;
  EXPECT_NE(before.message().find("NOT_SERVING"), std::string::npos) << before;

  (*health)->SetServing(true);
  EXPECT_TRUE(client.CheckHealth("").ok());
  EXPECT_TRUE(client.CheckHealth("shardex.v1.Coordinator").ok());
  EXPECT_EQ(client.CheckHealth("shardex.v1.Nope").code(),
            absl::StatusCode::kNotFound);

  (*health)->SetServing(false);
  absl::Status after = client.CheckHealth("shardex.v1.Coordinator");
  EXPECT_NE(after.message().find("NOT_SERVING"), std::string::npos) << after;
}

TEST(HealthServerTest, ServesNothingButHealth) {
  // The main server registers reflection's plugin process-wide; start one
  // first so that the health server has to drop it.
  CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  options.health_listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> coordinator =
      CoordinatorServer::Start(options, Clock::Real());
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  const int port = (*coordinator)->health_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ(CallAny(port,
                    "/grpc.reflection.v1alpha.ServerReflection/"
                    "ServerReflectionInfo")
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(CallAny(port, "/shardex.v1.Coordinator/ListJobs").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // The control: the main port does serve reflection.
  EXPECT_NE(CallAny((*coordinator)->port(),
                    "/grpc.reflection.v1alpha.ServerReflection/"
                    "ServerReflectionInfo")
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST(HealthServerTest, FollowsTheCoordinator) {
  CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  options.health_listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> coordinator =
      CoordinatorServer::Start(options, Clock::Real());
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  CoordinatorClient client = ClientOf((*coordinator)->health_port());
  for (const char* service : kHealthServices) {
    EXPECT_TRUE(client.CheckHealth(service).ok()) << service;
  }
  EXPECT_TRUE(client.CheckHealth("").ok());
  (*coordinator)->Shutdown();
  absl::Status down = client.CheckHealth("");
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
}

TEST(HealthServerTest, NoHealthListenNoPort) {
  CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> coordinator =
      CoordinatorServer::Start(options, Clock::Real());
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  EXPECT_EQ((*coordinator)->health_port(), 0);
}

TEST(HealthServerTest, BadAddressNamesTheFlag) {
  absl::StatusOr<std::unique_ptr<HealthServer>> health =
      HealthServer::Start("256.1.1.1:7474", {});
  ASSERT_FALSE(health.ok());
  EXPECT_NE(health.status().message().find("--health-listen"),
            std::string::npos)
      << health.status();
}

}  // namespace
}  // namespace shardex
