#include "common/blob_id.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace shardex {
namespace {

// FIPS 180-2 test vector.
constexpr char kAbcHex[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(BlobIdTest, KnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), kAbcHex);
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.FinishHex(), kAbcHex);
  EXPECT_EQ(Sha256Raw("abc").size(), 32u);
}

TEST(BlobIdTest, OnlyLowerCaseHexOfTheRightLengthIsAName) {
  EXPECT_TRUE(IsBlobId(kAbcHex));
  std::string upper = kAbcHex;
  upper[0] = 'B';
  EXPECT_FALSE(IsBlobId(upper));
  EXPECT_FALSE(IsBlobId("../../etc/passwd"));
  EXPECT_FALSE(IsBlobId(std::string(kAbcHex).substr(1)));
}

TEST(BlobIdTest, FileDigestMatchesMemoryDigestAcrossBlocks) {
  const std::string path = ::testing::TempDir() + "/blob_id_test.bin";
  std::string content(kBlobBlockBytes + 12345, 'x');
  for (size_t i = 0; i < content.size(); i += 997) content[i] = char(i % 251);
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fwrite(content.data(), 1, content.size(), f), content.size());
  fclose(f);
  absl::StatusOr<std::string> got = Sha256OfFile(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Sha256Hex(content));
  EXPECT_EQ(BlobBlocks(content.size()), 2u);
  EXPECT_EQ(BlobBlocks(0), 0u);
  EXPECT_FALSE(Sha256OfFile(path + ".missing").ok());
}

}  // namespace
}  // namespace shardex
