#include "worker/grpc_blob_fetcher.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/shardex.grpc.pb.h"
#include "worker/fake_store.h"

namespace shardex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kB = kBlobBlockBytes;

class GrpcBlobFetcherTest : public ::testing::Test {
 protected:
  GrpcBlobFetcherTest() : blob_(std::string(2 * kB + 100, 'b')) {
    store_.Put(blob_);
  }

  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&store_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  ChannelOptions Channel() const {
    ChannelOptions c;
    c.target = absl::StrCat("127.0.0.1:", port_);
    return c;
  }

  const std::string blob_;
  FakeStore store_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(GrpcBlobFetcherTest, FetchesBlocksWithTheTokenAndTheirHashes) {
  GrpcBlobFetcher fetcher(Channel(), "sekrit");
  std::vector<uint64_t> got;
  auto collect = [&](uint64_t index, std::string_view data,
                     std::string_view sha) -> absl::Status {
    EXPECT_EQ(Sha256Raw(data), sha);
    EXPECT_EQ(data, std::string_view(blob_).substr(index * kB, kB));
    got.push_back(index);
    return absl::OkStatus();
  };
  const std::string sha = Sha256Hex(blob_);
  ASSERT_TRUE(fetcher.Fetch(sha, blob_.size(), 0, 1, collect).ok());
  // A run through the last (short) block asks for "to the end".
  ASSERT_TRUE(fetcher.Fetch(sha, blob_.size(), 1, 2, collect).ok());
  EXPECT_THAT(got, ElementsAre(0, 1, 2));
  const std::vector<FakeStore::Call> calls = store_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].offset, 0u);
  EXPECT_EQ(calls[0].length, kB);
  EXPECT_EQ(calls[1].offset, kB);
  EXPECT_EQ(calls[1].length, 0u);  // through the last block: to the end
  EXPECT_EQ(calls[0].token, "Bearer sekrit");
  EXPECT_EQ(calls[1].token, "Bearer sekrit");
}

TEST_F(GrpcBlobFetcherTest, ErrorsNameTheBlobAndKeepTheCode) {
  GrpcBlobFetcher fetcher(Channel(), "");
  const std::string missing(64, 'f');
  absl::Status st = fetcher.Fetch(
      missing, 10, 0, 1, [](uint64_t, std::string_view, std::string_view) {
        return absl::OkStatus();
      });
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.message()), HasSubstr(missing));

  // A callback's error stops the stream and comes back as it is.
  st = fetcher.Fetch(Sha256Hex(blob_), blob_.size(), 0, 3,
                     [](uint64_t, std::string_view, std::string_view) {
                       return absl::DataLossError("bad block");
                     });
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shardex
