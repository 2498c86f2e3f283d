#include "coordinator/store_service.h"

#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/blob_id.h"
#include "common/fake_clock.h"
#include "common/file_util.h"
#include "common/token.h"
#include "coordinator/store_testing.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kToken[] = "store-test-token";

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 13);
  return s;
}

class StoreServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = ts_.Open();
    ASSERT_TRUE(st.ok()) << st;
    service_ = std::make_unique<StoreService>(ts_.store(), ts_.outputs(),
                                              &auth_, &auth_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Store::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    server_->Shutdown();
    server_->Wait();
    service_.reset();
  }
  std::unique_ptr<grpc::ClientContext> Ctx(bool with_token = true) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (with_token) {
      ctx->AddMetadata(kTokenMetadataKey,
                       std::string(kTokenMetadataPrefix) + kToken);
    }
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(30));
    return ctx;
  }
  // Sends `data` from `offset` in chunks of `chunk` bytes.
  grpc::Status Upload(const std::string& sha, const std::string& data,
                      uint64_t size, uint64_t offset, size_t chunk) {
    auto ctx = Ctx();
    v1::UploadBlobResponse response;
    auto writer = stub_->UploadBlob(ctx.get(), &response);
    v1::UploadChunk first;
    first.set_sha256(sha);
    first.set_size(size);
    first.set_offset(offset);
    size_t at = 0;
    bool ok = true;
    do {
      v1::UploadChunk c = at == 0 ? first : v1::UploadChunk();
      c.set_data(data.substr(at, chunk));
      at += chunk;
      ok = writer->Write(c);
    } while (ok && at < data.size());
    writer->WritesDone();
    return writer->Finish();
  }
  v1::BlobStat Stat(const std::string& sha) {
    auto ctx = Ctx();
    v1::StatBlobsRequest request;
    request.add_sha256(sha);
    v1::StatBlobsResponse response;
    grpc::Status st = stub_->StatBlobs(ctx.get(), request, &response);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return response.blobs_size() == 1 ? response.blobs(0) : v1::BlobStat();
  }

  Authenticator auth_{kToken};
  TestStore ts_{"store_service_test"};
  std::unique_ptr<StoreService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Store::Stub> stub_;
};

TEST_F(StoreServiceTest, UploadResumeStatAndReadBlocksWithHashes) {
  const std::string data = Bytes(2 * kBlobBlockBytes + 333, 'd');
  const std::string sha = Sha256Hex(data);
  EXPECT_FALSE(Stat(sha).stored());
  // An interrupted upload: the stream ends early.
  grpc::Status st = Upload(sha, data.substr(0, 1000), data.size(), 0, 400);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Stat(sha).received_bytes(), 1000u);
  st = Upload(sha, data.substr(1000), data.size(), 1000, 300 << 10);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::BlobStat stat = Stat(sha);
  EXPECT_TRUE(stat.stored());
  EXPECT_EQ(stat.size(), data.size());
  EXPECT_EQ(stat.uploads(), 1u);

  auto ctx = Ctx();
  v1::ReadBlobRequest request;
  request.set_sha256(sha);
  request.set_offset(kBlobBlockBytes);
  auto reader = stub_->ReadBlob(ctx.get(), request);
  v1::BlobBlock block;
  std::string got;
  std::vector<uint64_t> offsets;
  while (reader->Read(&block)) {
    offsets.push_back(block.offset());
    EXPECT_EQ(block.block_sha256(), Sha256Raw(block.data()));
    got += block.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_THAT(offsets, ElementsAre(kBlobBlockBytes, 2 * kBlobBlockBytes));
  EXPECT_EQ(got, data.substr(kBlobBlockBytes));
  EXPECT_EQ(Stat(sha).served_bytes(), got.size());
}

TEST_F(StoreServiceTest, WrongContentIsRefused) {
  const std::string data = Bytes(5000, 'w');
  const std::string sha = Sha256Hex("not this");
  grpc::Status st = Upload(sha, data, data.size(), 0, 1000);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(st.error_message(), HasSubstr("upload it again"));
  EXPECT_EQ(Stat(sha).received_bytes(), 0u);
}

TEST_F(StoreServiceTest, CallsNeedTheToken) {
  auto ctx = Ctx(/*with_token=*/false);
  v1::StatBlobsRequest request;
  v1::StatBlobsResponse response;
  EXPECT_EQ(stub_->StatBlobs(ctx.get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto read_ctx = Ctx(/*with_token=*/false);
  v1::ReadBlobRequest read;
  read.set_sha256(Sha256Hex(""));
  auto reader = stub_->ReadBlob(read_ctx.get(), read);
  v1::BlobBlock block;
  EXPECT_FALSE(reader->Read(&block));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(StoreServiceTest, BadBlobNamesAreRefused) {
  auto ctx = Ctx();
  v1::StatBlobsRequest request;
  request.add_sha256("../../etc/passwd");
  v1::StatBlobsResponse response;
  EXPECT_EQ(stub_->StatBlobs(ctx.get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upload("../x", "data", 4, 0, 4).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(StoreServiceTest, OutputsListCompleteFilesAndRefuseBadNames) {
  const std::string dir = ts_.outputs()->DirOf(12);
  ASSERT_TRUE(MakeDirs(dir, 0700, "test").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/part-00000", "p0").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/result", "the result").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/param-out", "png").ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/result.tmp-1-2", "half").ok());
  ASSERT_TRUE(WriteFileAtomically(ts_.root() + "/secret", "s").ok());

  auto ctx = Ctx();
  v1::ListOutputsRequest list;
  list.set_job_id(12);
  v1::ListOutputsResponse listed;
  ASSERT_TRUE(stub_->ListOutputs(ctx.get(), list, &listed).ok());
  std::vector<std::string> names;
  for (const v1::OutputFile& f : listed.files()) names.push_back(f.name());
  EXPECT_THAT(names, ElementsAre("param-out", "part-00000", "result"));
  EXPECT_EQ(listed.files(2).size(), 10u);

  auto read = [&](const std::string& name, uint64_t offset, std::string* got) {
    auto rctx = Ctx();
    v1::ReadOutputRequest request;
    request.set_job_id(12);
    request.set_name(name);
    request.set_offset(offset);
    auto reader = stub_->ReadOutput(rctx.get(), request);
    v1::DataChunk chunk;
    while (reader->Read(&chunk)) *got += chunk.data();
    return reader->Finish();
  };
  std::string got;
  ASSERT_TRUE(read("result", 4, &got).ok());
  EXPECT_EQ(got, "result");
  for (const std::string bad :
       {"../../secret", "result.tmp-1-2", "a/b", ".."}) {
    got.clear();
    EXPECT_EQ(read(bad, 0, &got).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
    EXPECT_EQ(got, "");
  }
  EXPECT_EQ(read("_SUCCESS", 0, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto none = Ctx();
  list.set_job_id(99);
  EXPECT_EQ(stub_->ListOutputs(none.get(), list, &listed).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(StoreServiceNoStoreTest, EveryCallNamesTheFix) {
  Authenticator auth(kToken);
  StoreService service(nullptr, nullptr, &auth, &auth);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::Store::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata(kTokenMetadataKey,
                  std::string(kTokenMetadataPrefix) + kToken);
  v1::StatBlobsRequest request;
  v1::StatBlobsResponse response;
  grpc::Status st = stub->StatBlobs(&ctx, request, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("--shared-fs"));
  server->Shutdown();
}

}  // namespace
}  // namespace shardex
