// StoreClient, UploadStaged and OutputFetcher against an in-process
// FakeStore.
#include "client/store_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/fake_store.h"
#include "client/output_fetcher.h"
#include "client/stager.h"
#include "client/store_testing.h"
#include "common/blob_id.h"
#include "common/file_util.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace shardex {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Deterministic bytes that differ per file and position.
std::string Bytes(uint64_t n, char seed) {
  std::string s(n, '\0');
  for (uint64_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(seed + i * 7 + i / 251);
  return s;
}

class StoreClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status st = server_.Start();
    ASSERT_TRUE(st.ok()) << st;
    store_ = std::make_unique<StoreClient>(server_.client());
  }

  // Writes `content` to dir_/name and adds it to spec_.staged.
  std::string Stage(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(path, content).ok());
    v1::StagedFile* f = spec_.add_staged();
    f->set_path(path);
    f->set_sha256(Sha256Hex(content));
    f->set_size(content.size());
    f->set_mode(0644);
    return path;
  }

  // Runs UploadStaged; `*err` gets what it printed.
  absl::StatusOr<StageReport> Upload(std::string* err) {
    char* buf = nullptr;
    size_t len = 0;
    FILE* f = open_memstream(&buf, &len);
    absl::StatusOr<StageReport> r = UploadStaged(*store_, spec_, f, false);
    fclose(f);
    *err = std::string(buf, len);
    free(buf);
    return r;
  }

  FakeStoreServer server_{"store_client_test"};
  FakeStore& fake_ = server_.fake();
  const std::string& dir_ = server_.dir();  // set by Start
  std::unique_ptr<StoreClient> store_;
  v1::JobSpec spec_;
};

TEST_F(StoreClientTest, SkipsStoredResumesPartialAndSendsExactBytes) {
  const std::string big = Bytes(3 * kBlobBlockBytes + 5, 'a');
  const std::string kept = Bytes(100, 'k');
  const std::string half = Bytes(2 * kBlobBlockBytes + 9, 'h');
  Stage("big", big);
  Stage("big-again", big);  // same content: one blob
  Stage("kept", kept);
  const std::string half_path = Stage("half", half);
  fake_.SetStored(Sha256Hex(kept), kept.size());
  fake_.SetPartial(Sha256Hex(half), kBlobBlockBytes);

  std::string err;
  absl::StatusOr<StageReport> r = Upload(&err);
  ASSERT_TRUE(r.ok()) << r.status();

  ASSERT_EQ(fake_.stat_requests().size(), 1u);
  EXPECT_EQ(fake_.stat_requests()[0].size(), 3u);  // distinct blobs
  const std::vector<FakeStore::Upload> ups = fake_.uploads();
  ASSERT_EQ(ups.size(), 2u);
  EXPECT_EQ(ups[0].sha256, Sha256Hex(big));
  EXPECT_EQ(ups[0].offset, 0u);
  EXPECT_EQ(ups[0].size, big.size());
  EXPECT_TRUE(ups[0].data == big);
  EXPECT_EQ(ups[0].chunk_bytes,
            (std::vector<size_t>{kBlobBlockBytes, kBlobBlockBytes,
                                 kBlobBlockBytes, 5}));
  EXPECT_EQ(ups[1].sha256, Sha256Hex(half));
  EXPECT_EQ(ups[1].offset, kBlobBlockBytes);
  EXPECT_TRUE(ups[1].data == half.substr(kBlobBlockBytes));

  EXPECT_EQ(r->files, 3u);
  EXPECT_EQ(r->uploaded, 2u);
  EXPECT_EQ(r->already_stored, 1u);
  const uint64_t total = big.size() + kept.size() + half.size();
  EXPECT_EQ(err, absl::StrCat("shardex: resuming upload of '", half_path,
                              "' at ", kBlobBlockBytes, " of ", half.size(),
                              " bytes\nshardex: staged 3 files (", total,
                              " bytes): 2 uploaded, 1 already stored\n"));
}

TEST_F(StoreClientTest, BrokenUploadResumesFromTheCoordinatorsCopy) {
  const std::string data = Bytes(3 * kBlobBlockBytes, 'r');
  const std::string path = Stage("r", data);
  fake_.BreakNextUploadAfter(kBlobBlockBytes);
  std::string err;
  absl::StatusOr<StageReport> r = Upload(&err);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<FakeStore::Upload> ups = fake_.uploads();
  ASSERT_EQ(ups.size(), 2u);
  EXPECT_EQ(ups[0].offset, 0u);
  EXPECT_EQ(ups[1].offset, kBlobBlockBytes);
  EXPECT_TRUE(ups[0].data + ups[1].data == data);
  EXPECT_NE(
      err.find(absl::StrCat("shardex: resuming upload of '", path, "' at ",
                            kBlobBlockBytes, " of ", data.size(), " bytes\n")),
      std::string::npos)
      << err;
  EXPECT_EQ(r->uploaded, 1u);
}

TEST_F(StoreClientTest, EmptyFileIsOneMessage) {
  Stage("empty", "");
  std::string err;
  ASSERT_TRUE(Upload(&err).ok());
  const std::vector<FakeStore::Upload> ups = fake_.uploads();
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(ups[0].size, 0u);
  EXPECT_EQ(ups[0].chunk_bytes, std::vector<size_t>{0});
  EXPECT_EQ(ups[0].sha256, Sha256Hex(""));
}

TEST_F(StoreClientTest, RefusalIsTheErrorAndNoSummary) {
  Stage("f", "data");
  fake_.FailUploads(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the store is full (--max-store-bytes)"));
  std::string err;
  absl::StatusOr<StageReport> r = Upload(&err);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("--max-store-bytes"),
            absl::string_view::npos);
  EXPECT_EQ(err.find("staged"), std::string::npos) << err;
}

TEST_F(StoreClientTest, NothingStagedCallsNothing) {
  std::string err;
  absl::StatusOr<StageReport> r = Upload(&err);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files, 0u);
  EXPECT_TRUE(fake_.stat_requests().empty());
}

TEST_F(StoreClientTest, OutputsArriveWholeWithSuccessLast) {
  fake_.AddOutput(7, "part-00000", "zero\n");
  fake_.AddOutput(7, "part-00001", "one\n");
  fake_.AddOutput(7, "_SUCCESS", "");  // listed early: still written last
  fake_.AddOutput(7, "result", "zero\none\n");
  fake_.AddOutput(7, "param-out", "P5 image");
  const std::string out = dir_ + "/out";
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  const std::string image = dir_ + "/image.pgm";
  OutputFetcher fetcher(*store_, 7, {out, {{"out", image}}});

  ASSERT_TRUE(fetcher.FetchNew().ok());
  EXPECT_EQ(fake_.reads(),
            (std::vector<std::string>{"part-00000", "part-00001", "result"}));
  EXPECT_FALSE(Exists(out + "/_SUCCESS"));
  EXPECT_FALSE(Exists(image));

  bool all_there_before_success = false;
  fake_.OnRead([&](const std::string& name) {
    if (name != "_SUCCESS") return;
    all_there_before_success = Exists(out + "/part-00000") &&
                               Exists(out + "/part-00001") &&
                               Exists(out + "/result") && Exists(image);
  });
  absl::StatusOr<bool> complete = fetcher.FetchAll();
  ASSERT_TRUE(complete.ok()) << complete.status();
  EXPECT_TRUE(*complete);
  EXPECT_EQ(fake_.reads().back(), "_SUCCESS");
  EXPECT_TRUE(all_there_before_success);
  EXPECT_EQ(*ReadFile(out + "/result"), "zero\none\n");
  EXPECT_EQ(*ReadFile(image), "P5 image");
  EXPECT_TRUE(Exists(out + "/_SUCCESS"));
  EXPECT_EQ(fake_.reads().size(), 5u);  // nothing fetched twice
}

TEST_F(StoreClientTest, BrokenDownloadLeavesNoFinalNorTemporaryFile) {
  fake_.AddOutput(3, "result", "a long enough result\n");
  fake_.AddOutput(3, "_SUCCESS", "");
  OutputFetcher fetcher(*store_, 3, {dir_, {}});
  fake_.BreakOutput("result");
  absl::StatusOr<bool> complete = fetcher.FetchAll();
  EXPECT_EQ(complete.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(Exists(dir_ + "/result"));
  EXPECT_FALSE(Exists(PartialDownloadPath(dir_ + "/result")));
  EXPECT_FALSE(Exists(dir_ + "/_SUCCESS"));
}

TEST_F(StoreClientTest, NoSuccessYetMeansIncomplete) {
  fake_.AddOutput(4, "part-00000", "x");
  OutputFetcher fetcher(*store_, 4, {dir_, {}});
  absl::StatusOr<bool> complete = fetcher.FetchAll();
  ASSERT_TRUE(complete.ok());
  EXPECT_FALSE(*complete);
  EXPECT_TRUE(Exists(dir_ + "/part-00000"));
  EXPECT_FALSE(Exists(dir_ + "/_SUCCESS"));
}

TEST_F(StoreClientTest, UnknownJobIsNotFound) {
  EXPECT_EQ(store_->ListOutputs(99).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace shardex
