#include "worker/grpc_blob_fetcher.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/blob_id.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/shardex.grpc.pb.h"

namespace shardex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kB = kBlobBlockBytes;

// A Store serving one blob, as the coordinator does: whole blocks from
// `offset`, `length` bytes (0: to the end), each with its SHA-256.
class FakeStore : public v1::Store::Service {
 public:
  explicit FakeStore(std::string blob) : blob_(std::move(blob)) {}

  grpc::Status ReadBlob(grpc::ServerContext* ctx,
                        const v1::ReadBlobRequest* req,
                        grpc::ServerWriter<v1::BlobBlock>* writer) override {
    {
      absl::MutexLock lock(&mu_);
      auto auth = ctx->client_metadata().find("authorization");
      tokens_.push_back(
          auth == ctx->client_metadata().end()
              ? ""
              : std::string(auth->second.data(), auth->second.size()));
      requests_.push_back({req->offset(), req->length()});
    }
    if (req->sha256() != Sha256Hex(blob_)) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such blob");
    }
    const uint64_t end =
        req->length() == 0
            ? blob_.size()
            : std::min<uint64_t>(blob_.size(), req->offset() + req->length());
    if (req->length() != 0 && req->offset() + req->length() > blob_.size()) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "past the end");
    }
    for (uint64_t at = req->offset(); at < end; at += kB) {
      v1::BlobBlock block;
      block.set_offset(at);
      block.set_data(blob_.substr(at, kB));
      block.set_block_sha256(Sha256Raw(block.data()));
      writer->Write(block);
    }
    return grpc::Status::OK;
  }

  std::vector<std::string> tokens() {
    absl::MutexLock lock(&mu_);
    return tokens_;
  }
  std::vector<std::pair<uint64_t, uint64_t>> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  const std::string blob_;
  absl::Mutex mu_;
  std::vector<std::string> tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> requests_ ABSL_GUARDED_BY(mu_);
};

class GrpcBlobFetcherTest : public ::testing::Test {
 protected:
  GrpcBlobFetcherTest()
      : blob_(std::string(2 * kB + 100, 'b')), store_(blob_) {}

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
  EXPECT_THAT(store_.requests(), ElementsAre(std::make_pair(uint64_t{0}, kB),
                                             std::make_pair(kB, uint64_t{0})));
  EXPECT_THAT(store_.tokens(), ElementsAre("Bearer sekrit", "Bearer sekrit"));
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
