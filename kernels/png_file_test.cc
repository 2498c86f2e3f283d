#include "kernels/png_file.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/png_testing.h"

namespace shardex {
namespace {

namespace fs = std::filesystem;

// A fresh, empty directory per test.
fs::path TestDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("png_file_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A width x height image whose pixel (x, y) is (x, y, x+y) mod 256.
struct Image {
  uint32_t width, height;
  std::string rgb;
  std::vector<const uint8_t*> rows;
};

Image Gradient(uint32_t width, uint32_t height) {
  Image image{width, height, std::string(size_t{width} * height * 3, '\0'), {}};
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      char* p = &image.rgb[(size_t{y} * width + x) * 3];
      p[0] = static_cast<char>(x);
      p[1] = static_cast<char>(y);
      p[2] = static_cast<char>(x + y);
    }
  }
  for (uint32_t y = 0; y < height; ++y) {
    image.rows.push_back(reinterpret_cast<const uint8_t*>(image.rgb.data()) +
                         size_t{y} * width * 3);
  }
  return image;
}

TEST(PngFileTest, WritesAnRgbPngThatDecodesToTheSamePixels) {
  const fs::path dir = TestDir("roundtrip");
  const std::string path = (dir / "g.png").string();
  const Image image = Gradient(300, 7);
  absl::StatusOr<uint64_t> size =
      WriteRgbPngFile(path, image.width, image.height, image.rows);
  ASSERT_TRUE(size.ok()) << size.status();
  absl::StatusOr<std::string> bytes = testing::ReadFileBytes(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*size, bytes->size());
  absl::StatusOr<testing::DecodedPng> png = testing::DecodePng(*bytes);
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->width, 300u);
  EXPECT_EQ(png->height, 7u);
  EXPECT_EQ(png->bit_depth, 8);
  EXPECT_EQ(png->color_type, 2);  // truecolour, no alpha
  EXPECT_EQ(png->rgb, image.rgb);
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"g.png"});
}

TEST(PngFileTest, EqualImagesGiveEqualFilesAndReplaceTheOldOne) {
  const fs::path dir = TestDir("replace");
  const std::string a = (dir / "a.png").string();
  const std::string b = (dir / "b.png").string();
  const Image image = Gradient(64, 64);
  std::ofstream(b) << "an old file";
  ASSERT_TRUE(WriteRgbPngFile(a, 64, 64, image.rows).ok());
  ASSERT_TRUE(WriteRgbPngFile(b, 64, 64, image.rows).ok());
  EXPECT_EQ(testing::ReadFileBytes(a).value(),
            testing::ReadFileBytes(b).value());
  EXPECT_EQ(Entries(dir), (std::vector<std::string>{"a.png", "b.png"}));
}

TEST(PngFileTest, MissingDirectoryIsAClearError) {
  const std::string path =
      (TestDir("missing") / "no" / "such" / "dir" / "x.png").string();
  const Image image = Gradient(4, 4);
  absl::StatusOr<uint64_t> size = WriteRgbPngFile(path, 4, 4, image.rows);
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(size.status().message().find("cannot write " + path),
            std::string::npos)
      << size.status();
  EXPECT_NE(size.status().message().find("No such file or directory"),
            std::string::npos)
      << size.status();
}

TEST(PngFileTest, FailedRenameLeavesNoTemporaryFileBehind) {
  const fs::path dir = TestDir("rename");
  // A non-empty directory where the file should go: rename(2) must fail.
  fs::create_directories(dir / "out.png" / "inside");
  const Image image = Gradient(4, 4);
  absl::StatusOr<uint64_t> size =
      WriteRgbPngFile((dir / "out.png").string(), 4, 4, image.rows);
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.status().message().find("cannot rename"), std::string::npos)
      << size.status();
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"out.png"});
  EXPECT_TRUE(fs::is_directory(dir / "out.png"));
}

TEST(PngFileTest, RejectsBadSizes) {
  const fs::path dir = TestDir("sizes");
  const Image image = Gradient(4, 4);
  const std::string path = (dir / "x.png").string();
  EXPECT_EQ(WriteRgbPngFile(path, 0, 4, image.rows).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteRgbPngFile(path, 4, 0, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteRgbPngFile(path, 4, 3, image.rows).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Entries(dir).empty());
}

}  // namespace
}  // namespace shardex
