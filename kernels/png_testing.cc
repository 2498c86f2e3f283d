#include "kernels/png_testing.h"

#include <png.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shardex {
namespace testing {
namespace {

// Signature (8 bytes), IHDR length and type (8), width and height (8), then
// bit depth and colour type.
constexpr size_t kBitDepthOffset = 24;
constexpr size_t kColorTypeOffset = 25;

}  // namespace

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(errno != 0 ? errno : EIO,
                               absl::StrCat("open ", path));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

absl::StatusOr<DecodedPng> DecodePng(absl::string_view bytes) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PNG: ", image.message));
  }
  DecodedPng png;
  png.width = image.width;
  png.height = image.height;
  png.bit_depth = static_cast<unsigned char>(bytes[kBitDepthOffset]);
  png.color_type = static_cast<unsigned char>(bytes[kColorTypeOffset]);
  image.format = PNG_FORMAT_RGB;
  png.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, /*background=*/nullptr, png.rgb.data(),
                             /*row_stride=*/0, /*colormap=*/nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode PNG: ", image.message));
  }
  return png;
}

}  // namespace testing
}  // namespace shardex
