// Test helpers: decode a PNG file back into its header fields and 8-bit RGB
// pixels, through libpng's simplified read API (a different code path from
// the low-level writer in png_file.cc, so the two check each other).
//
// Thread-safety: stateless free functions; safe from any thread.
#ifndef SHARDEX_KERNELS_PNG_TESTING_H_
#define SHARDEX_KERNELS_PNG_TESTING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shardex {
namespace testing {

struct DecodedPng {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 0;   // from the IHDR chunk, as stored in the file
  int color_type = 0;  // from the IHDR chunk: 2 = PNG_COLOR_TYPE_RGB
  std::string rgb;     // width*height*3 bytes, top row first

  // The R, G, B bytes of pixel (x, y).
  std::string Pixel(uint32_t x, uint32_t y) const {
    return rgb.substr((static_cast<size_t>(y) * width + x) * 3, 3);
  }
};

// The whole file, or an errno-based error.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// Decodes PNG bytes; INVALID_ARGUMENT if libpng rejects them.
absl::StatusOr<DecodedPng> DecodePng(absl::string_view bytes);

}  // namespace testing
}  // namespace shardex

#endif  // SHARDEX_KERNELS_PNG_TESTING_H_
