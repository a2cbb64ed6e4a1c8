#include "models/wan/rope_tables.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "platform/ops.h"

namespace x2v {

RopeSplit wan_rope_split(int64_t head_dim) {
  const int64_t sixth = head_dim / 6;
  return RopeSplit{head_dim - 4 * sixth, 2 * sixth, 2 * sixth};
}

RopeTables wan_rope_tables(const RopeGrid& grid, int64_t head_dim, double theta, Device& device,
                           int64_t first, int64_t count) {
  const RopeSplit split = wan_rope_split(head_dim);
  if (head_dim % 2 != 0 || split.frame_dims % 2 != 0 || split.height_dims % 2 != 0)
    throw Error("rope", concat("head_dim ", head_dim, " does not split into whole frame/height/width pairs"));
  const int64_t pairs = head_dim / 2;
  const int64_t rows = count < 0 ? grid.tokens() - first : count;
  Tensor cosines = Tensor::host({rows, pairs}, DType::f32);
  Tensor sines = Tensor::host({rows, pairs}, DType::f32);
  for (int64_t row = 0; row < rows; ++row) {
    float* cos_values = cosines.data<float>() + row * pairs;
    float* sin_values = sines.data<float>() + row * pairs;
    const int64_t t = first + row;
    if (t >= grid.tokens()) {
      std::fill(cos_values, cos_values + pairs, 1.0f);
      std::fill(sin_values, sin_values + pairs, 0.0f);
      continue;
    }
    const int64_t position[3] = {t / (grid.height * grid.width), (t / grid.width) % grid.height,
                                 t % grid.width};
    const int64_t part_dims[3] = {split.frame_dims, split.height_dims, split.width_dims};
    int64_t pair = 0;
    for (int axis = 0; axis < 3; ++axis)
      for (int64_t k = 0; k < part_dims[axis] / 2; ++k, ++pair) {
        const double angle =
            static_cast<double>(position[axis]) *
            std::pow(theta, -2.0 * static_cast<double>(k) / static_cast<double>(part_dims[axis]));
        cos_values[pair] = static_cast<float>(std::cos(angle));
        sin_values[pair] = static_cast<float>(std::sin(angle));
      }
  }
  return RopeTables{ops::to_device(cosines, device), ops::to_device(sines, device)};
}

}  // namespace x2v
