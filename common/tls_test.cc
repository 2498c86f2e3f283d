#include "common/tls.h"

#include "gtest/gtest.h"

namespace shardex {
namespace {

TEST(TlsTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7473"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7473"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7473"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:7473"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:7473"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.5:7473"));
  EXPECT_FALSE(IsLoopbackAddress("coord.example.com:7473"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:7473"));
  EXPECT_FALSE(IsLoopbackAddress("[::1:7473"));
}

TEST(TlsTest, NoFilesMeansInsecure) {
  EXPECT_TRUE(ServerCredentialsFor(TlsFiles{}).ok());
  EXPECT_TRUE(ChannelCredentialsFor(TlsFiles{}).ok());
}

TEST(TlsTest, CertAndKeyGoTogether) {
  TlsFiles only_cert;
  only_cert.cert = "/nonexistent/cert.pem";
  EXPECT_EQ(ServerCredentialsFor(only_cert).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChannelCredentialsFor(only_cert).status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsFiles only_ca;
  only_ca.ca = "/nonexistent/ca.pem";
  EXPECT_EQ(ServerCredentialsFor(only_ca).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TlsTest, MissingFileIsNamed) {
  TlsFiles files;
  files.ca = "/nonexistent/ca.pem";
  absl::Status st = ChannelCredentialsFor(files).status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--tls-ca"), std::string::npos) << st;
}

}  // namespace
}  // namespace shardex
