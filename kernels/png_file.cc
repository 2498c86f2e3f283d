#include "kernels/png_file.h"

#include <fcntl.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace shardex {
namespace {

// Where libpng writes and reports errors. Plain data: it lives across the
// longjmp that libpng uses to report errors.
struct PngSink {
  FILE* file = nullptr;
  int write_errno = 0;  // set when a write or flush fails
  char message[256] = "";
};

[[noreturn]] void OnPngError(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof(sink->message), "%s", message);
  png_longjmp(png, 1);
}

// Warnings concern chunks and settings, never the pixels written here; by
// default libpng would print them to the coordinator's stderr.
void OnPngWarning(png_structp, png_const_charp) {}

// Our own write callback instead of png_init_io, so a failed fwrite keeps its
// errno (ENOSPC, EIO) for the Status.
void WriteToSink(png_structp png, png_bytep data, size_t length) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (std::fwrite(data, 1, length, sink->file) != length) {
    sink->write_errno = errno != 0 ? errno : EIO;
    png_error(png, "write failed");
  }
}

void FlushSink(png_structp png) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (std::fflush(sink->file) != 0) {
    sink->write_errno = errno != 0 ? errno : EIO;
    png_error(png, "flush failed");
  }
}

// Encodes the image into sink->file; false (with sink->message) on error.
// libpng reports errors by longjmp out of this frame, which would skip C++
// destructors, so everything here is plain data and `png`/`info` are not
// modified after setjmp.
bool EncodeRgbPng(PngSink* sink, uint32_t width, uint32_t height,
                  const uint8_t* const* rows) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink,
                                            OnPngError, OnPngWarning);
  if (png == nullptr) {
    std::snprintf(sink->message, sizeof(sink->message), "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(sink->message, sizeof(sink->message), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(png)) != 0) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, sink, WriteToSink, FlushSink);
  png_set_IHDR(png, info, width, height, /*bit_depth=*/8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (uint32_t y = 0; y < height; ++y) png_write_row(png, rows[y]);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

// A new file next to a target path that becomes the target on Commit and is
// removed otherwise. Being in the same directory makes the final rename
// atomic (same file system).
class TempFile {
 public:
  static absl::StatusOr<std::unique_ptr<TempFile>> CreateFor(
      const std::string& target) {
    static std::atomic<uint64_t> next_id{0};
    // O_EXCL: never clobber another writer's temporary file. A name can be
    // taken by a file left over from a crashed process that had our pid.
    for (int attempt = 0; attempt < 100; ++attempt) {
      const std::string path =
          absl::StrCat(target, ".tmp-", getpid(), "-", next_id++);
      // 0666 and the umask: the mode the target would get if created
      // directly (mkstemp would make it 0600).
      const int fd =
          open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0 && errno == EEXIST) continue;
      if (fd < 0) {
        return absl::ErrnoToStatus(
            errno, absl::StrCat("cannot write ", target,
                                ": cannot create temporary file ", path));
      }
      FILE* file = fdopen(fd, "wb");
      if (file == nullptr) {
        const int error = errno;
        close(fd);
        unlink(path.c_str());
        return absl::ErrnoToStatus(error, absl::StrCat("fdopen ", path));
      }
      return std::unique_ptr<TempFile>(new TempFile(path, file));
    }
    return absl::AlreadyExistsError(absl::StrCat(
        "cannot write ", target, ": 100 temporary file names are taken"));
  }

  ~TempFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) unlink(path_.c_str());
  }

  FILE* file() const { return file_; }
  const std::string& path() const { return path_; }

  // Flushes and syncs the data (so the rename can never expose an empty or
  // partial file after a crash), closes the file and renames it to
  // `target`. Returns the file's size.
  absl::StatusOr<uint64_t> CommitAs(const std::string& target) {
    if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path_));
    }
    struct stat st;
    if (fstat(fileno(file_), &st) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat ", path_));
    }
    FILE* file = file_;
    file_ = nullptr;
    if (std::fclose(file) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot close ", path_));
    }
    if (std::rename(path_.c_str(), target.c_str()) != 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("cannot rename ", path_, " to ", target));
    }
    committed_ = true;
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  TempFile(std::string path, FILE* file)
      : path_(std::move(path)), file_(file) {}

  const std::string path_;
  FILE* file_;
  bool committed_ = false;
};

absl::Status CheckImage(uint32_t width, uint32_t height,
                        absl::Span<const uint8_t* const> rows) {
  // PNG allows up to 2^31-1; libpng's default user limit is 10^6.
  constexpr uint32_t kMaxSide = 1'000'000;
  if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide) {
    return absl::InvalidArgumentError(
        absl::StrCat("PNG size ", width, "x", height, " is not within 1x1 to ",
                     kMaxSide, "x", kMaxSide));
  }
  if (rows.size() != height) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PNG of height ", height, " given ", rows.size(), " rows"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> WriteRgbPngFile(
    const std::string& path, uint32_t width, uint32_t height,
    absl::Span<const uint8_t* const> rows) {
  RETURN_IF_ERROR(CheckImage(width, height, rows));
  ASSIGN_OR_RETURN(std::unique_ptr<TempFile> temp, TempFile::CreateFor(path));
  PngSink sink;
  sink.file = temp->file();
  if (!EncodeRgbPng(&sink, width, height, rows.data())) {
    if (sink.write_errno != 0) {
      return absl::ErrnoToStatus(sink.write_errno,
                                 absl::StrCat("cannot write ", temp->path()));
    }
    return absl::InternalError(
        absl::StrCat("libpng failed writing ", path, ": ", sink.message));
  }
  return temp->CommitAs(path);
}

}  // namespace shardex
