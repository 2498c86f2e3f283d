#include <atomic>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/kernel.h"
#include "kernels/kernel_testing.h"
#include "kernels/png_testing.h"
#include "kernels/split.h"

namespace shardex {
namespace {

using ::shardex::testing::LocalKernel;

namespace fs = std::filesystem;

const std::string kBlack("\0\0\0", 3);

// A fresh, empty directory per test.
fs::path TestDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("mandelbrot_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::unique_ptr<LocalKernel> MandelbrotJob(const KernelArgs& args) {
  absl::StatusOr<std::unique_ptr<LocalKernel>> job =
      LocalKernel::Create("mandelbrot", args);
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : nullptr;
}

// Renders in `shards` shards and returns the PNG file's bytes.
std::string RenderToBytes(const KernelArgs& args, uint64_t shards) {
  std::unique_ptr<LocalKernel> job = MandelbrotJob(args);
  if (job == nullptr) return "";
  absl::StatusOr<KernelResult> r = testing::RunJob(*job, shards);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->value, args.at("out"));
  absl::StatusOr<std::string> bytes = testing::ReadFileBytes(args.at("out"));
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  if (!bytes.ok()) return "";
  EXPECT_EQ(r->details.at("bytes"), std::to_string(bytes->size()));
  return *bytes;
}

// Independent oracle for inside/outside: plain std::complex iteration with
// the kernel's documented pixel mapping and escape radius 256, without its
// cardioid shortcut.
bool OracleInside(double cx, double cy, double scale, int width, int height,
                  int px, int py, int max_iter) {
  const double step = scale / width;
  const std::complex<double> c(cx + (px - (width - 1) / 2.0) * step,
                               cy + ((height - 1) / 2.0 - py) * step);
  std::complex<double> z = 0;
  for (int n = 0; n < max_iter; ++n) {
    if (std::norm(z) > 65536.0) return false;
    z = z * z + c;
  }
  return std::norm(z) <= 65536.0;
}

TEST(MandelbrotKernelTest, RendersTheDefaultViewAsAnRgbPng) {
  const fs::path dir = TestDir("default");
  const std::string out = (dir / "m.png").string();
  const std::string bytes =
      RenderToBytes({{"width", "101"}, {"height", "75"}, {"out", out}}, 3);
  absl::StatusOr<testing::DecodedPng> png = testing::DecodePng(bytes);
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->width, 101u);
  EXPECT_EQ(png->height, 75u);
  EXPECT_EQ(png->bit_depth, 8);
  EXPECT_EQ(png->color_type, 2);  // truecolour, no alpha
  // The middle pixel is exactly the view's centre, -0.5 + 0i: inside.
  EXPECT_EQ(png->Pixel(50, 37), kBlack);
  // The corners (|c| > 2) escape and get a colour.
  EXPECT_NE(png->Pixel(0, 0), kBlack);
  EXPECT_NE(png->Pixel(100, 74), kBlack);
  // Nothing else is left in the directory (the temporary file was renamed).
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(MandelbrotKernelTest, PngBytesAreIdenticalForAnyShardCount) {
  const fs::path dir = TestDir("shards");
  std::string first;
  for (uint64_t shards : {1, 7, 2, 60}) {
    const std::string out = (dir / absl::StrCat(shards, ".png")).string();
    const std::string bytes = RenderToBytes({{"width", "80"},
                                             {"height", "60"},
                                             {"out", out},
                                             {"center-x", "-0.75"},
                                             {"center-y", "0.1"},
                                             {"scale", "0.5"}},
                                            shards);
    ASSERT_FALSE(bytes.empty());
    if (first.empty()) {
      first = bytes;
    } else {
      EXPECT_EQ(bytes, first) << shards << " shards";
    }
  }
}

// Adaptive shards have uneven ranges: ReduceRanges places each payload's
// rows by its range and gives the same image.
TEST(MandelbrotKernelTest, ShardsOfUnevenRangesGiveTheSameImage) {
  const fs::path dir = TestDir("uneven");
  const KernelArgs even{{"width", "40"}, {"height", "30"},
                        {"out", (dir / "even.png").string()}};
  const std::string expected = RenderToBytes(even, 3);
  ASSERT_FALSE(expected.empty());
  KernelArgs args = even;
  args["out"] = (dir / "uneven.png").string();
  std::unique_ptr<LocalKernel> job = MandelbrotJob(args);
  ASSERT_NE(job, nullptr);
  const std::vector<ShardRange> ranges = {{0, 1}, {1, 17}, {17, 18}, {18, 30}};
  std::vector<std::string> payloads;
  for (const ShardRange& r : ranges) {
    absl::StatusOr<std::string> p = job->RunShard(r);
    ASSERT_TRUE(p.ok()) << p.status();
    payloads.push_back(*p);
  }
  ASSERT_TRUE(job->job().ReduceRanges(payloads, ranges).ok());
  absl::StatusOr<std::string> bytes = testing::ReadFileBytes(args.at("out"));
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, expected);
  // Ranges that leave a gap are refused, not drawn.
  const std::vector<ShardRange> gap = {{0, 1}, {2, 17}, {17, 18}, {18, 30}};
  absl::StatusOr<KernelResult> bad = job->job().ReduceRanges(payloads, gap);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MandelbrotKernelTest, InsideAndOutsideMatchAPlainIteration) {
  const fs::path dir = TestDir("oracle");
  const std::string out = (dir / "m.png").string();
  constexpr int kWidth = 61, kHeight = 41, kMaxIter = 200;
  const std::string bytes = RenderToBytes(
      {{"width", "61"}, {"height", "41"}, {"out", out}, {"max-iter", "200"}},
      4);
  absl::StatusOr<testing::DecodedPng> png = testing::DecodePng(bytes);
  ASSERT_TRUE(png.ok()) << png.status();
  int inside = 0;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const bool want =
          OracleInside(-0.5, 0, 3.0, kWidth, kHeight, x, y, kMaxIter);
      inside += want ? 1 : 0;
      EXPECT_EQ(png->Pixel(x, y) == kBlack, want)
          << "(" << x << ", " << y << ")";
    }
  }
  // A real mix of both, or the comparison would prove little.
  EXPECT_GT(inside, kWidth * kHeight / 10);
  EXPECT_LT(inside, kWidth * kHeight / 2);
}

// FNV-1a, to pin the raw pixels compactly.
uint64_t Fnv1a(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3;
  return h;
}

TEST(MandelbrotKernelTest, PixelsArePinned) {
  // Changing the mapping, the iteration or the colours changes every image:
  // do it only deliberately, and update this value.
  std::unique_ptr<LocalKernel> job = MandelbrotJob(
      {{"width", "64"}, {"height", "48"}, {"out", "/unused.png"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<std::vector<std::string>> payloads =
      testing::RunAllShards(*job, 1);
  ASSERT_TRUE(payloads.ok()) << payloads.status();
  ASSERT_EQ((*payloads)[0].size(), 64u * 48 * 3);
  EXPECT_EQ(Fnv1a((*payloads)[0]), uint64_t{2169718221409976897u});
}

TEST(MandelbrotKernelTest, UnwritableOutputIsAClearErrorFromReduce) {
  const std::string out =
      (TestDir("unwritable") / "missing" / "m.png").string();
  std::unique_ptr<LocalKernel> job =
      MandelbrotJob({{"width", "8"}, {"height", "8"}, {"out", out}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<std::vector<std::string>> payloads =
      testing::RunAllShards(*job, 2);
  ASSERT_TRUE(payloads.ok()) << payloads.status();
  absl::StatusOr<KernelResult> r = job->Reduce(*payloads);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("cannot write " + out), std::string::npos)
      << r.status();
  EXPECT_NE(r.status().message().find("No such file or directory"),
            std::string::npos)
      << r.status();
}

TEST(MandelbrotKernelTest, ReduceRejectsPayloadsOfTheWrongSize) {
  const std::string out = (TestDir("sizes") / "m.png").string();
  std::unique_ptr<LocalKernel> job =
      MandelbrotJob({{"width", "10"}, {"height", "4"}, {"out", out}});
  ASSERT_NE(job, nullptr);
  // Two shards of two rows: 60 bytes each.
  const std::string rows(60, 'x');
  for (const std::vector<std::string>& payloads :
       std::vector<std::vector<std::string>>{
           {rows, rows + "x"}, {rows, ""}, {rows.substr(1), rows}, {}}) {
    absl::StatusOr<KernelResult> r = job->Reduce(payloads);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(job->Reduce({rows, rows}).ok());
  EXPECT_TRUE(fs::exists(out));
}

TEST(MandelbrotKernelTest, DomainIsTheRowsInShardsOfBoundedWork) {
  struct Case {
    const char* width;
    const char* height;
    const char* max_iter;
    uint64_t rows_per_shard;
    uint64_t default_shards;
  };
  for (const Case& c : std::vector<Case>{
           {"101", "75", "500", 2595, 1},
           {"1920", "1080", "500", 136, 8},
           {"1920", "1080", "100", 136, 8},
           {"1920", "1080", "5000", 13, 84},  // 10x the work per pixel
           {"16384", "16384", "500", 16, 1024},
           {"16384", "16384", "1000000", 1, 16384},
           {"16384", "1", "500", 16, 1}}) {
    std::unique_ptr<LocalKernel> job = MandelbrotJob({{"width", c.width},
                                                      {"height", c.height},
                                                      {"max-iter", c.max_iter},
                                                      {"out", "/x.png"}});
    ASSERT_NE(job, nullptr);
    const Domain d = job->domain();
    EXPECT_EQ(d.kind, Domain::Kind::kRange);
    EXPECT_EQ(d.lo, 0u);
    EXPECT_EQ(d.hi, std::stoull(c.height));
    EXPECT_EQ(d.shard_size_hint, c.rows_per_shard)
        << c.width << "x" << c.height << " " << c.max_iter;
    EXPECT_EQ(DefaultShardCount(d, 8), c.default_shards)
        << c.width << "x" << c.height << " " << c.max_iter;
  }
  const KernelInfo* info = FindKernel("mandelbrot");
  ASSERT_NE(info, nullptr);
  for (const KernelParam& p : info->params) {
    EXPECT_EQ(p.is_path, p.name == "out") << p.name;
    EXPECT_EQ(p.is_output, p.name == "out") << p.name;
  }
}

TEST(MandelbrotKernelTest, ShardsTooLargeForOneMessageAreRefused) {
  std::unique_ptr<LocalKernel> job = MandelbrotJob(
      {{"width", "16384"}, {"height", "16384"}, {"out", "/x.png"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<std::string> r = job->RunShard({0, 1000});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("use at least 25 shards"),
            std::string::npos)
      << r.status();
}

TEST(MandelbrotKernelTest, CancelledBeforeStartingReturnsCancelled) {
  std::unique_ptr<LocalKernel> job =
      MandelbrotJob({{"width", "100"}, {"height", "100"}, {"out", "/x.png"}});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelledBeforeStarting(job->runner(), {0, 100});
}

TEST(MandelbrotKernelTest, CancelStopsALongShardWithinARow) {
  // Centred in the period-3 bulb, outside the cardioid shortcut: every
  // pixel runs all 10^6 iterations, so one 2000-pixel row takes seconds.
  std::unique_ptr<LocalKernel> job = MandelbrotJob({{"width", "2000"},
                                                    {"height", "1"},
                                                    {"out", "/x.png"},
                                                    {"max-iter", "1000000"},
                                                    {"center-x", "-0.1225"},
                                                    {"center-y", "0.7449"},
                                                    {"scale", "0.001"}});
  ASSERT_NE(job, nullptr);
  testing::ExpectCancelStopsALongShard(
      job->runner(), {0, 1}, absl::Milliseconds(50), absl::Milliseconds(1000));
}

TEST(MandelbrotKernelTest, AcceptsDecimalForms) {
  for (const char* text :
       {"-0.5", "0", "-0", "3", "3.", ".5", "1e-3", "2.5E+1", "-1.25e-2"}) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("mandelbrot", {{"width", "4"},
                                           {"height", "4"},
                                           {"out", "/x.png"},
                                           {"center-x", text}});
    EXPECT_TRUE(job.ok()) << text << ": " << job.status();
  }
}

TEST(MandelbrotKernelTest, RejectsBadArguments) {
  struct Case {
    KernelArgs args;
    std::string message;
  };
  const KernelArgs base = {{"width", "4"}, {"height", "4"}, {"out", "/x.png"}};
  auto with = [&base](const std::string& name, const std::string& value) {
    KernelArgs args = base;
    args[name] = value;
    return args;
  };
  for (const Case& c : std::vector<Case>{
           {with("width", "0"), "--width must be between 1 and 16384, got 0"},
           {with("height", "16385"),
            "--height must be between 1 and 16384, got 16385"},
           {with("max-iter", "0"),
            "--max-iter must be between 1 and 1000000, got 0"},
           {with("scale", "0"), "--scale must be above 0, got 0"},
           {with("scale", "-3"), "--scale must be above 0, got -3"},
           {with("scale", "1e-323"),
            "--scale 1e-323 is too small for 4 pixels"},
           {with("scale", "3x"), "--scale: '3x' is not a decimal number"},
           {with("scale", " 3"), "--scale: ' 3' is not a decimal number"},
           {with("scale", "+3"), "--scale: '+3' is not a decimal number"},
           {with("scale", ""), "--scale: '' is not a decimal number"},
           {with("scale", "0x10"), "--scale: '0x10' is not a decimal number"},
           {with("center-x", "nan"),
            "--center-x: 'nan' is not a decimal number"},
           {with("center-x", "-inf"),
            "--center-x: '-inf' is not a decimal number"},
           {with("center-x", "1e5e"),
            "--center-x: '1e5e' is not a decimal number"},
           {with("center-y", "1e999"),
            "--center-y: '1e999' is not a finite double"},
           {with("out", ""), "--out must name a file"},
           {{{"width", "4"}, {"height", "4"}},
            "missing required argument --out for kernel mandelbrot"},
           {with("zoom", "2"), "unknown argument --zoom for kernel mandelbrot"},
       }) {
    absl::StatusOr<std::unique_ptr<LocalKernel>> job =
        LocalKernel::Create("mandelbrot", c.args);
    ASSERT_FALSE(job.ok()) << c.message;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(job.status().message(), c.message);
  }
}

// Straggler splitting: rows are claimed one at a time, so a run split at
// row `at` returns exactly the bytes of rows [0, at), and the two parts
// stacked are the unsplit image.
TEST(MandelbrotKernelTest, SplitRunReturnsExactlyTheRowsItCovered) {
  std::unique_ptr<LocalKernel> job =
      MandelbrotJob({{"width", "37"}, {"height", "64"}, {"out", "/x.png"}});
  ASSERT_NE(job, nullptr);
  absl::StatusOr<std::string> whole = job->RunShard({0, 64});
  ASSERT_TRUE(whole.ok()) << whole.status();
  for (const auto& [claimed, keep] :
       std::vector<std::pair<uint64_t, double>>{{0, 0.5}, {10, 0.2}}) {
    absl::StatusOr<testing::SplitRun> run =
        testing::RunSplitAt(*job, {0, 64}, claimed, keep);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->split.size(), run->at * 37 * 3);
    EXPECT_EQ(run->split + run->rest, *whole);
  }
}

}  // namespace
}  // namespace shardex
