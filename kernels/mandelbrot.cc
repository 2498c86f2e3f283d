// Kernel "mandelbrot": renders a view of the Mandelbrot set to a PNG file.
//
// The domain is the image's rows: a shard renders rows [begin, end) into raw
// RGB bytes, and Reduce (on the coordinator) checks and stacks them and
// writes the PNG atomically. Every pixel depends only on its own coordinates
// and the arguments, computed with correctly rounded IEEE double operations
// (+ - * /, frexp, floor) in a fixed order -- no libm transcendentals, whose
// last bits differ between C libraries, and no FMA contraction (the BUILD
// rule passes -ffp-contract=off) -- so the image is bit-identical for any
// shard count, worker host or retry.
// Thread-safety: MandelbrotJob and MandelbrotRunner are immutable; RunShard
// and Reduce may run concurrently.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/charconv.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "kernels/args.h"
#include "kernels/kernel.h"
#include "kernels/png_file.h"
#include "kernels/split.h"

namespace shardex {
namespace {

constexpr char kName[] = "mandelbrot";
constexpr uint64_t kMaxSide = 16384;
constexpr uint64_t kMaxIterations = 1'000'000;
constexpr uint64_t kBytesPerPixel = 3;

// Escape radius 256 instead of 2: the smooth colouring below is accurate only
// once |z| is large, and the extra few iterations are cheap.
constexpr double kBailoutSquared = 256.0 * 256.0;

// ~3 ns per iteration (a dependent multiply chain): 2^20 iterations are
// ~3 ms between cancel polls. A pixel is never split, so with --max-iter
// 10^6 a poll may come ~3 ms late.
constexpr uint64_t kPollIterations = uint64_t{1} << 20;

// Default shard size: 2^18 pixels, a 768 KiB payload and at most ~0.4 s at
// up to kBaseIterations iterations; proportionally fewer pixels beyond that,
// since a pixel may cost --max-iter iterations.
constexpr uint64_t kPixelsPerShard = uint64_t{1} << 18;
constexpr uint64_t kBaseIterations = 500;

// Largest payload RunShard produces: half the 64 MiB gRPC message limit of
// coordinator and workers, leaving room for the rest of the message. Only
// explicit low --shards counts on large images reach it.
constexpr uint64_t kMaxPayloadBytes = uint64_t{32} << 20;

// Colour stops of a cyclic gradient; escape counts walk through it once per
// kIterationsPerCycle. No stop is near black, so black means "inside".
constexpr int kStops = 5;
constexpr double kPalette[kStops][3] = {
    {0, 7, 100}, {32, 107, 203}, {237, 255, 255}, {255, 170, 0}, {120, 40, 20}};
constexpr double kIterationsPerCycle = 64.0;

std::vector<KernelParam> MandelbrotParams() {
  KernelParam out{"out",
                  "PNG file to write (on the submitting host; on the "
                  "coordinator's with --shared-fs)",
                  "",
                  /*required=*/true};
  out.is_path = true;
  out.is_output = true;
  return {
      {"width", "image width in pixels, 1 to 16384", "", true},
      {"height", "image height in pixels, 1 to 16384", "", true},
      out,
      {"max-iter", "iterations before a point counts as inside, 1 to 10^6",
       "500", false},
      {"center-x", "real part of the view's centre", "-0.5", false},
      {"center-y", "imaginary part of the view's centre", "0", false},
      {"scale", "width of the view in the complex plane, > 0", "3.0", false},
  };
}

// Parses a finite double written in decimal ("-0.5", "3", "1e-3"). Stricter
// than strtod: no spaces, no leading '+', no hex, no inf or nan, nothing
// trailing, nothing that overflows.
absl::StatusOr<double> ParseDoubleArg(absl::string_view name,
                                      absl::string_view text) {
  // from_chars alone would take "inf", "nan" and (this Abseil) "0x10".
  const bool decimal_characters_only =
      text.find_first_not_of("0123456789.eE+-") == absl::string_view::npos;
  double value = 0;
  const absl::from_chars_result r =
      absl::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || !decimal_characters_only ||
      r.ec == std::errc::invalid_argument ||
      r.ptr != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", absl::CHexEscape(text),
                     "' is not a decimal number"));
  }
  if (r.ec == std::errc::result_out_of_range || !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, ": '", absl::CHexEscape(text), "' is not a finite double"));
  }
  return value;
}

struct View {
  uint64_t width = 0;
  uint64_t height = 0;
  uint64_t max_iter = 0;
  double center_x = 0;
  double center_y = 0;
  double scale = 0;

  uint64_t RowBytes() const { return width * kBytesPerPixel; }

  uint64_t RowsPerShard() const {
    const uint64_t pixels =  // >= 2^18 * 500 / 10^6 = 131
        kPixelsPerShard * kBaseIterations / std::max(kBaseIterations, max_iter);
    return std::max<uint64_t>(1, pixels / width);
  }

  // The job is split over the image's rows.
  Domain domain() const {
    return Domain{Domain::Kind::kRange, 0, height, RowsPerShard()};
  }
};

// The validated arguments; both sides are built from them.
struct MandelbrotArgs {
  View view;
  std::string out;
};

// log2(x) for finite x > 0, exact at powers of two and linear in between
// (Mitchell's approximation). frexp is exact, so unlike std::log2 the result
// is the same under every C library; colouring needs no more precision.
double Log2Approx(double x) {
  int exponent = 0;
  const double mantissa = std::frexp(x, &exponent);  // in [0.5, 1)
  return (exponent - 1) + (2 * mantissa - 1);
}

// Points in the main cardioid or the period-2 bulb never escape. They fill
// much of the default view and would each cost --max-iter iterations.
bool InCardioidOrBulb(double cr, double ci) {
  const double ci2 = ci * ci;
  const double xm = cr - 0.25;
  const double q = xm * xm + ci2;
  if (q * (q + xm) <= 0.25 * ci2) return true;
  const double xp = cr + 1.0;
  return xp * xp + ci2 <= 0.0625;
}

struct Orbit {
  bool escaped = false;
  uint64_t iterations = 0;
  double radius_squared = 0;  // |z|^2 when it escaped
};

Orbit Iterate(double cr, double ci, uint64_t max_iter) {
  if (InCardioidOrBulb(cr, ci)) return Orbit{false, 0, 0};
  double x = 0, y = 0, x2 = 0, y2 = 0;
  uint64_t n = 0;
  while (n < max_iter && x2 + y2 <= kBailoutSquared) {
    y = 2 * x * y + ci;
    x = x2 - y2 + cr;
    x2 = x * x;
    y2 = y * y;
    ++n;
  }
  return Orbit{x2 + y2 > kBailoutSquared, n, x2 + y2};
}

// Continuous escape count n + 1 - log2(log2|z|): it varies smoothly across
// the bands of equal n, so the gradient shows no steps.
double SmoothCount(const Orbit& orbit) {
  if (!std::isfinite(orbit.radius_squared)) return 0;  // a far-off c
  const double log2_abs_z = 0.5 * Log2Approx(orbit.radius_squared);  // > 8
  const double mu =
      static_cast<double>(orbit.iterations) + 1 - Log2Approx(log2_abs_z);
  return std::max(0.0, mu);
}

void Colour(const Orbit& orbit, char* rgb) {
  if (!orbit.escaped) {
    rgb[0] = rgb[1] = rgb[2] = 0;
    return;
  }
  double cycle = SmoothCount(orbit) / kIterationsPerCycle;
  cycle -= std::floor(cycle);  // [0, 1)
  const double position = cycle * kStops;
  const int stop = std::min(static_cast<int>(position), kStops - 1);
  const double f = position - stop;
  const double* a = kPalette[stop];
  const double* b = kPalette[(stop + 1) % kStops];
  for (int c = 0; c < 3; ++c) {
    const double value = a[c] + (b[c] - a[c]) * f;  // within [0, 255]
    rgb[c] = static_cast<char>(static_cast<uint8_t>(value + 0.5));
  }
}

class MandelbrotJob final : public KernelJob {
 public:
  explicit MandelbrotJob(MandelbrotArgs args)
      : view_(args.view), out_(std::move(args.out)) {}

  Domain domain() const override { return view_.domain(); }
  // Its runner takes its range by ShardControl::Claim.
  bool splittable() const override { return true; }

  absl::StatusOr<KernelResult> Reduce(
      absl::Span<const std::string> payloads) const override {
    return ReduceRanges(payloads, EvenRanges(domain(), payloads.size()));
  }

  absl::StatusOr<KernelResult> ReduceRanges(
      absl::Span<const std::string> payloads,
      absl::Span<const ShardRange> ranges) const override {
    ASSIGN_OR_RETURN(const std::vector<const uint8_t*> rows,
                     RowsOf(payloads, ranges));
    ASSIGN_OR_RETURN(
        const uint64_t bytes,
        WriteRgbPngFile(out_, static_cast<uint32_t>(view_.width),
                        static_cast<uint32_t>(view_.height), rows));
    KernelResult result;
    result.value = out_;
    result.details["width"] = absl::StrCat(view_.width);
    result.details["height"] = absl::StrCat(view_.height);
    result.details["bytes"] = absl::StrCat(bytes);
    return result;
  }

 private:
  // One pointer per image row into the payloads, after checking that each
  // payload holds exactly its shard's rows.
  absl::StatusOr<std::vector<const uint8_t*>> RowsOf(
      absl::Span<const std::string> payloads,
      absl::Span<const ShardRange> ranges) const {
    if (payloads.empty()) {
      return absl::InvalidArgumentError("no shard payloads to reduce");
    }
    if (payloads.size() != ranges.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(payloads.size(), " shard payloads for ", ranges.size(),
                       " ranges"));
    }
    RETURN_IF_ERROR(ValidateShardCount(domain(), payloads.size(),
                                       std::numeric_limits<uint64_t>::max()));
    std::vector<const uint8_t*> rows;
    rows.reserve(view_.height);
    uint64_t next_row = domain().lo;
    for (size_t i = 0; i < payloads.size(); ++i) {
      const ShardRange range = ranges[i];
      if (range.begin != next_row || range.end <= range.begin) {
        return absl::InvalidArgumentError(absl::StrCat(
            "shard ", i, " covers rows [", range.begin, ", ", range.end,
            "); the next rows are from ", next_row));
      }
      next_row = range.end;
      const uint64_t want = (range.end - range.begin) * view_.RowBytes();
      if (payloads[i].size() != want) {
        return absl::InvalidArgumentError(
            absl::StrCat("payload of shard ", i, " has ", payloads[i].size(),
                         " bytes; rows [", range.begin, ", ", range.end,
                         ") of width ", view_.width, " need ", want));
      }
      const auto* data = reinterpret_cast<const uint8_t*>(payloads[i].data());
      for (uint64_t row = 0; row < range.end - range.begin; ++row) {
        rows.push_back(data + row * view_.RowBytes());
      }
    }
    if (next_row != domain().hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("the shards cover rows up to ", next_row, " of ",
                       domain().hi));
    }
    return rows;
  }

  const View view_;
  const std::string out_;
};

class MandelbrotRunner final : public ShardRunner {
 public:
  explicit MandelbrotRunner(MandelbrotArgs args)
      : view_(args.view),
        step_(view_.scale / static_cast<double>(view_.width)),
        half_width_((static_cast<double>(view_.width) - 1) / 2),
        half_height_((static_cast<double>(view_.height) - 1) / 2) {}

  absl::StatusOr<std::string> RunShard(
      ShardRange range, ShardControl& control) const override {
    RETURN_IF_ERROR(ValidateShardRange(view_.domain(), range));
    RETURN_IF_ERROR(CheckPayloadSize(range));
    return RenderRows(range, control);
  }
  bool splittable() const override { return true; }

 private:
  // Pixel centres are spread symmetrically about the view's centre, so with
  // an odd width and height the middle pixel is exactly (center-x,
  // center-y).
  double Real(uint64_t px) const {
    return view_.center_x + (static_cast<double>(px) - half_width_) * step_;
  }
  double Imaginary(uint64_t py) const {
    return view_.center_y + (half_height_ - static_cast<double>(py)) * step_;
  }

  absl::Status CheckPayloadSize(ShardRange range) const {
    const uint64_t bytes = (range.end - range.begin) * view_.RowBytes();
    if (bytes <= kMaxPayloadBytes) return absl::OkStatus();
    const uint64_t max_rows = kMaxPayloadBytes / view_.RowBytes();
    return absl::InvalidArgumentError(
        absl::StrCat("shard [", range.begin, ", ", range.end, ") would return ",
                     bytes, " bytes of pixels, over the ", kMaxPayloadBytes,
                     " a shard may; use at least ",
                     (view_.height + max_rows - 1) / max_rows, " shards"));
  }

  // Rows [range.begin, control.end()) as raw RGB, or CANCELLED. Rows are
  // claimed one at a time (a row is at least width pixels of work, the
  // cancel poll's granularity), so the worker may split the shard between
  // rows; a pixel depends only on its coordinates, so the split run's bytes
  // are the unsplit run's over the rows it covered.
  absl::StatusOr<std::string> RenderRows(ShardRange range,
                                         ShardControl& control) const {
    std::string rgb((range.end - range.begin) * view_.RowBytes(), '\0');
    char* pixel = rgb.data();
    uint64_t since_poll = kPollIterations;  // poll before the first pixel
    uint64_t py = range.begin;
    for (;; ++py) {
      if (!control.Claim(py, 1).has_value()) break;
      const double ci = Imaginary(py);
      for (uint64_t px = 0; px < view_.width; ++px) {
        if (since_poll >= kPollIterations) {
          if (control.cancelled()) {
            return absl::CancelledError("mandelbrot cancelled");
          }
          since_poll = 0;
        }
        const Orbit orbit = Iterate(Real(px), ci, view_.max_iter);
        since_poll += orbit.iterations + 1;
        Colour(orbit, pixel);
        pixel += kBytesPerPixel;
      }
    }
    rgb.resize((py - range.begin) * view_.RowBytes());  // split: fewer rows
    return rgb;
  }

  const View view_;
  const double step_;  // distance between pixel centres
  const double half_width_;
  const double half_height_;
};

absl::StatusOr<double> GetDoubleArg(const KernelArgs& args,
                                    const std::string& name) {
  return ParseDoubleArg(name, args.at(name));  // every double has a default
}

absl::StatusOr<View> ParseView(const KernelArgs& args) {
  View v;
  ASSIGN_OR_RETURN(v.width, GetUint64Arg(args, "width", 0));
  RETURN_IF_ERROR(CheckArgRange("width", v.width, 1, kMaxSide));
  ASSIGN_OR_RETURN(v.height, GetUint64Arg(args, "height", 0));
  RETURN_IF_ERROR(CheckArgRange("height", v.height, 1, kMaxSide));
  ASSIGN_OR_RETURN(v.max_iter, GetUint64Arg(args, "max-iter", 0));
  RETURN_IF_ERROR(CheckArgRange("max-iter", v.max_iter, 1, kMaxIterations));
  ASSIGN_OR_RETURN(v.center_x, GetDoubleArg(args, "center-x"));
  ASSIGN_OR_RETURN(v.center_y, GetDoubleArg(args, "center-y"));
  ASSIGN_OR_RETURN(v.scale, GetDoubleArg(args, "scale"));
  if (v.scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scale must be above 0, got ", args.at("scale")));
  }
  // Neighbouring pixels may coincide (the image is flat), but a spacing that
  // underflows to zero is no view at all.
  if (v.scale / static_cast<double>(v.width) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--scale ", args.at("scale"),
                                                   " is too small for ",
                                                   v.width, " pixels"));
  }
  return v;
}

absl::StatusOr<MandelbrotArgs> ParseMandelbrotArgs(const KernelArgs& args) {
  ASSIGN_OR_RETURN(const KernelArgs resolved,
                   ResolveArgs(kName, MandelbrotParams(), args));
  ASSIGN_OR_RETURN(const View view, ParseView(resolved));
  const std::string& out = resolved.at("out");
  if (out.empty()) {
    return absl::InvalidArgumentError("--out must name a file");
  }
  return MandelbrotArgs{view, out};
}

KernelInfo MandelbrotKernelInfo() {
  KernelInfo info;
  info.name = kName;
  info.summary = "render a view of the Mandelbrot set to a PNG file";
  info.params = MandelbrotParams();
  SetKernelSides<MandelbrotJob, MandelbrotRunner>(ParseMandelbrotArgs, &info);
  return info;
}

}  // namespace

SHARDEX_REGISTER_KERNEL(mandelbrot, MandelbrotKernelInfo);

}  // namespace shardex
