// Facts about Pillow's resize (libImaging/Resample.c and Geometry.c; the fixtures are Pillow
// 13.0's output) that this file reproduces; each one changes output bytes:
// * Two separable passes, each only when the size changes along its axis, horizontal first unless
//   the height shrinks by more than twice as many pixels as the width does (Pillow 13 then runs
//   the vertical pass first, to make the horizontal one cheaper). Each pass rounds and clips to
//   uint8, so the second pass reads 8-bit values: the order changes output bytes.
// * Per axis: scale = in / out; filter_scale = max(scale, 1); support = filter support x
//   filter_scale (downscaling widens the filter); output pixel i is centred at (i + 0.5) x scale;
//   its taps run from trunc(centre - support + 0.5) to trunc(centre + support + 0.5), clamped to
//   the image; tap j weighs filter((j - centre + 0.5) x (1 / filter_scale)), and the weights are
//   divided by their sum (all in double).
// * Weights become fixed point with 22 fractional bits, rounded half away from zero; a pixel is
//   (2^21 + sum of value x weight) >> 22, clamped to [0, 255].
// * NEAREST is not a convolution: Pillow scales by an affine map whose source coordinate starts at
//   scale / 2 and is advanced by adding scale (the accumulated double), truncated to an index.
// Pillow's wheels are built for baseline x86-64, without fused multiply-adds, and one rounding
// less in the filters changes some weights; so contraction is switched off below (GCC contracts
// a * b + c into an FMA whenever the target has one, e.g. with -march=native, even in ISO mode).
#include "io/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "base/error.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace lightvlm {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's: 8-bit values, 2 bits of headroom
constexpr int64_t kRoundingBias = int64_t{1} << (kPrecisionBits - 1);

// The filters as Pillow evaluates them, in double, with the same operation order.
double BoxWeight(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double BilinearWeight(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double HammingWeight(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * std::numbers::pi;
  // Pillow writes these constants as floats (0.54f, 0.46f), which are not exactly 0.54 and 0.46.
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

double BicubicWeight(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * std::numbers::pi;
  return std::sin(x) / x;
}

double LanczosWeight(double x) {
  if (-3.0 <= x && x < 3.0) return Sinc(x) * Sinc(x / 3);
  return 0.0;
}

struct Kernel {
  double (*weight)(double x);
  double support;  // weight is zero outside [-support, support] before widening
};

Kernel KernelOf(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kBox:
      return {BoxWeight, 0.5};
    case ResampleFilter::kBilinear:
      return {BilinearWeight, 1.0};
    case ResampleFilter::kHamming:
      return {HammingWeight, 1.0};
    case ResampleFilter::kBicubic:
      return {BicubicWeight, 2.0};
    case ResampleFilter::kLanczos:
      return {LanczosWeight, 3.0};
    case ResampleFilter::kNearest:
      break;
  }
  Fail("resample filter ", ResampleFilterName(filter), " is not a convolution");
}

// Which input pixels make each output pixel along one axis, and with what fixed-point weights.
struct AxisTaps {
  int max_taps = 0;
  std::vector<int> first;       // [out_size]: index of the first input pixel used
  std::vector<int> count;       // [out_size]: number of input pixels used
  std::vector<int32_t> weight;  // [out_size, max_taps]: 22-bit fixed point, sum ~ 2^22
};

int32_t ToFixedPoint(double weight) {
  const double scaled = weight * (1 << kPrecisionBits);
  return static_cast<int32_t>(weight < 0 ? -0.5 + scaled : 0.5 + scaled);
}

AxisTaps ComputeTaps(int in_size, int out_size, const Kernel& kernel) {
  // Pillow computes the scale from float box coordinates; for sizes below 2^24 they are exact.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kernel.support * filter_scale;
  const double inverse_filter_scale = 1.0 / filter_scale;

  AxisTaps taps;
  taps.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weight.assign(static_cast<size_t>(out_size) * taps.max_taps, 0);
  std::vector<double> weights(taps.max_taps);
  for (int out = 0; out < out_size; ++out) {
    const double center = (out + 0.5) * scale;
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int end = std::min(static_cast<int>(center + support + 0.5), in_size);
    double sum = 0.0;
    for (int in = first; in < end; ++in) {
      weights[in - first] = kernel.weight((in - center + 0.5) * inverse_filter_scale);
      sum += weights[in - first];
    }
    int32_t* fixed = &taps.weight[static_cast<size_t>(out) * taps.max_taps];
    for (int j = 0; j < end - first; ++j) {
      fixed[j] = ToFixedPoint(sum != 0.0 ? weights[j] / sum : weights[j]);
    }
    taps.first[out] = first;
    taps.count[out] = end - first;
  }
  return taps;
}

uint8_t ClipToByte(int64_t accumulator) {
  return static_cast<uint8_t>(std::clamp<int64_t>(accumulator >> kPrecisionBits, 0, 255));
}

Image ResizeHorizontally(const Image& in, int out_width, const Kernel& kernel) {
  const AxisTaps taps = ComputeTaps(in.width, out_width, kernel);
  Image out{out_width, in.height, std::vector<uint8_t>(size_t{3} * out_width * in.height)};
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* in_row = &in.rgb[size_t{3} * in.width * y];
    uint8_t* out_pixel = &out.rgb[size_t{3} * out_width * y];
    for (int x = 0; x < out_width; ++x, out_pixel += 3) {
      const int32_t* weight = &taps.weight[static_cast<size_t>(x) * taps.max_taps];
      const uint8_t* in_pixel = in_row + size_t{3} * taps.first[x];
      int64_t sum[3] = {kRoundingBias, kRoundingBias, kRoundingBias};
      for (int j = 0; j < taps.count[x]; ++j, in_pixel += 3) {
        for (int c = 0; c < 3; ++c) sum[c] += int64_t{in_pixel[c]} * weight[j];
      }
      for (int c = 0; c < 3; ++c) out_pixel[c] = ClipToByte(sum[c]);
    }
  }
  return out;
}

Image ResizeVertically(const Image& in, int out_height, const Kernel& kernel) {
  const AxisTaps taps = ComputeTaps(in.height, out_height, kernel);
  const size_t row_bytes = size_t{3} * in.width;
  Image out{in.width, out_height, std::vector<uint8_t>(row_bytes * out_height)};
  std::vector<int64_t> sum(row_bytes);
  for (int y = 0; y < out_height; ++y) {
    std::fill(sum.begin(), sum.end(), kRoundingBias);
    const int32_t* weight = &taps.weight[static_cast<size_t>(y) * taps.max_taps];
    for (int j = 0; j < taps.count[y]; ++j) {
      const uint8_t* in_row = &in.rgb[row_bytes * (taps.first[y] + j)];
      for (size_t i = 0; i < row_bytes; ++i) sum[i] += int64_t{in_row[i]} * weight[j];
    }
    uint8_t* out_row = &out.rgb[row_bytes * y];
    for (size_t i = 0; i < row_bytes; ++i) out_row[i] = ClipToByte(sum[i]);
  }
  return out;
}

// Source index of every output pixel along one axis for NEAREST, or -1 where Pillow's
// accumulated coordinate leaves the image (Pillow writes 0 there).
std::vector<int> NearestSources(int in_size, int out_size) {
  const double step = static_cast<double>(static_cast<float>(in_size)) / out_size;
  std::vector<int> sources(out_size);
  double coordinate = step * 0.5;
  for (int& source : sources) {
    const int index = coordinate < 0.0 ? -1 : static_cast<int>(coordinate);
    source = (index >= 0 && index < in_size) ? index : -1;
    coordinate += step;
  }
  return sources;
}

Image ResizeNearest(const Image& in, int out_width, int out_height) {
  const std::vector<int> source_x = NearestSources(in.width, out_width);
  const std::vector<int> source_y = NearestSources(in.height, out_height);
  Image out{out_width, out_height, std::vector<uint8_t>(size_t{3} * out_width * out_height, 0)};
  for (int y = 0; y < out_height; ++y) {
    if (source_y[y] < 0) continue;
    const uint8_t* in_row = &in.rgb[size_t{3} * in.width * source_y[y]];
    uint8_t* out_pixel = &out.rgb[size_t{3} * out_width * y];
    for (int x = 0; x < out_width; ++x, out_pixel += 3) {
      if (source_x[x] >= 0) std::copy_n(in_row + size_t{3} * source_x[x], 3, out_pixel);
    }
  }
  return out;
}

}  // namespace

std::optional<ResampleFilter> ResampleFilterFromPil(int id) {
  if (id < 0 || id > static_cast<int>(ResampleFilter::kHamming)) return std::nullopt;
  return static_cast<ResampleFilter>(id);
}

std::string_view ResampleFilterName(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kNearest:
      return "nearest";
    case ResampleFilter::kLanczos:
      return "lanczos";
    case ResampleFilter::kBilinear:
      return "bilinear";
    case ResampleFilter::kBicubic:
      return "bicubic";
    case ResampleFilter::kBox:
      return "box";
    case ResampleFilter::kHamming:
      return "hamming";
  }
  return "unknown";
}

Image ResizeImage(const Image& image, int width, int height, ResampleFilter filter) {
  Check(width >= 1 && height >= 1, "cannot resize an image to ", width, "x", height);
  Check(image.width >= 1 && image.height >= 1 &&
            image.rgb.size() == size_t{3} * image.width * image.height,
        "cannot resize a malformed ", image.width, "x", image.height, " image of ",
        image.rgb.size(), " bytes");
  if (filter == ResampleFilter::kNearest) return ResizeNearest(image, width, height);
  const Kernel kernel = KernelOf(filter);
  Image result{image.width, image.height, image.rgb};
  const int64_t height_shrink = int64_t{image.height} - height;
  const int64_t width_shrink = int64_t{image.width} - width;
  if (height_shrink > 0 && height_shrink > 2 * width_shrink) {
    result = ResizeVertically(result, height, kernel);
    if (width != image.width) result = ResizeHorizontally(result, width, kernel);
    return result;
  }
  if (width != image.width) result = ResizeHorizontally(result, width, kernel);
  if (height != image.height) result = ResizeVertically(result, height, kernel);
  return result;
}

}  // namespace lightvlm
