// Writing 8-bit RGB images as PNG files with libpng, for kernels whose
// answer is a picture (mandelbrot).
//
// The file appears atomically: the image is encoded into a temporary file in
// the same directory, flushed to disk and renamed over the target, so a
// reader never sees a half-written PNG, even after a crash.
// Thread-safety: stateless free functions; calls from several threads are
// safe (each uses its own libpng state and a temporary file of its own).
#ifndef SHARDEX_KERNELS_PNG_FILE_H_
#define SHARDEX_KERNELS_PNG_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace shardex {

// Writes a `width` x `height` 8-bit RGB PNG (no alpha, not interlaced) to
// `path`, replacing any file there. `rows` holds `height` pointers, top row
// first, each to width*3 bytes (R, G, B per pixel). The bytes written depend
// only on the pixels (no timestamp), so equal images give equal files.
// Returns the file's size in bytes. Errors (INVALID_ARGUMENT for bad sizes,
// errno-based codes for I/O, INTERNAL for libpng) name `path`; on error the
// temporary file is removed and `path` is left as it was.
absl::StatusOr<uint64_t> WriteRgbPngFile(const std::string& path,
                                         uint32_t width, uint32_t height,
                                         absl::Span<const uint8_t* const> rows);

}  // namespace shardex

#endif  // SHARDEX_KERNELS_PNG_FILE_H_
