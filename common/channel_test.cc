#include "common/channel.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(ChannelTest, PlaintextChannelIsCreatedWithoutConnecting) {
  ChannelOptions options;
  options.target = "127.0.0.1:1";  // nobody listens; channels connect lazily
  options.keepalive_interval = absl::Seconds(10);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateCoordinatorChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_NE(*channel, nullptr);
}

TEST(ChannelTest, BadTlsFilesAreTheError) {
  ChannelOptions options;
  options.target = "127.0.0.1:1";
  options.tls.cert = "/nonexistent/cert.pem";  // a cert without its key
  EXPECT_EQ(CreateCoordinatorChannel(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.tls.key = "/nonexistent/key.pem";
  EXPECT_FALSE(CreateCoordinatorChannel(options).ok());
}

}  // namespace
}  // namespace shardex
