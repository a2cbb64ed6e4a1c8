#include "io/image_resize.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/text.h"

namespace x2v::io {
namespace {

constexpr double kCubicA = -0.75;  // PyTorch's (and OpenCV's) bicubic constant

// The four taps of one output coordinate along an axis: source indices (clamped) and weights.
struct Taps {
  std::array<int64_t, 4> index;
  std::array<double, 4> weight;
};

std::vector<Taps> axis_taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const auto near = [](double x) { return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1; };  // |x| <= 1
  const auto far = [](double x) {                                                              // 1 < |x| < 2
    return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA;
  };
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    // Not clamped at 0 for cubic, unlike linear modes.
    const double source = (static_cast<double>(o) + 0.5) * scale - 0.5;
    const double floor = std::floor(source);
    const double t = source - floor;
    Taps& tap = taps[static_cast<size_t>(o)];
    tap.weight = {far(t + 1), near(t), near(1 - t), far(2 - t)};
    for (int k = 0; k < 4; ++k)
      tap.index[k] = std::clamp<int64_t>(static_cast<int64_t>(floor) - 1 + k, 0, in - 1);
  }
  return taps;
}

}  // namespace

Tensor resize_bicubic(const Tensor& image, int64_t height, int64_t width) {
  if (!image.defined() || image.ndim() != 3 || !image.is_host_accessible())
    throw Error("resize", concat("image is ", image.describe(), "; expected a host tensor [channels, H, W]"));
  if (height < 1 || width < 1)
    throw Error("resize", concat("target size ", height, "x", width, " must be at least 1x1"));
  const Tensor source = image.to_host(DType::f32);
  const int64_t channels = source.size(0), in_height = source.size(1), in_width = source.size(2);
  const std::vector<Taps> rows = axis_taps(in_height, height), columns = axis_taps(in_width, width);
  Tensor out = Tensor::host({channels, height, width}, DType::f32);
  const float* in = source.data<float>();
  float* result = out.data<float>();
  std::vector<double> row_values(static_cast<size_t>(in_width));
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = in + c * in_height * in_width;
    for (int64_t y = 0; y < height; ++y) {
      // Vertical taps first, for every source column, then horizontal taps per output pixel.
      const Taps& row = rows[static_cast<size_t>(y)];
      for (int64_t x = 0; x < in_width; ++x) {
        double value = 0;
        for (int k = 0; k < 4; ++k) value += row.weight[k] * plane[row.index[k] * in_width + x];
        row_values[static_cast<size_t>(x)] = value;
      }
      float* target = result + (c * height + y) * width;
      for (int64_t x = 0; x < width; ++x) {
        const Taps& column = columns[static_cast<size_t>(x)];
        double value = 0;
        for (int k = 0; k < 4; ++k)
          value += column.weight[k] * row_values[static_cast<size_t>(column.index[k])];
        target[x] = static_cast<float>(value);
      }
    }
  }
  return out;
}

}  // namespace x2v::io
