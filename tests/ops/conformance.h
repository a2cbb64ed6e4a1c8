#pragma once
// Helpers for the conformance suite: seeded random inputs and an error measure against the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/tensor.h"

namespace x2v::conformance {

// Max abs error over max abs value of the reference, per output dtype (rounding of the output dominates).
inline double tolerance(DType output_dtype) {
  switch (output_dtype) {
    case DType::f32:
      return 2e-5;
    case DType::f16:
      return 2e-3;
    case DType::bf16:
      return 1.2e-2;
    default:
      return 0.0;
  }
}

inline Tensor random_tensor(const Shape& shape, DType dtype, uint32_t seed, float scale = 1.0f) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(shape_numel(shape));
  for (float& value : values) value = normal(generator);
  return Tensor::host_from(values, shape, dtype);
}

inline double relative_error(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = actual.to_floats(), e = expected.to_floats();
  EXPECT_EQ(a.size(), e.size());
  double max_error = 0, max_value = 1e-30;
  for (size_t i = 0; i < std::min(a.size(), e.size()); ++i) {
    if (std::isnan(a[i]) != std::isnan(e[i])) return INFINITY;
    max_error = std::max(max_error, std::fabs(static_cast<double>(a[i]) - e[i]));
    max_value = std::max(max_value, std::fabs(static_cast<double>(e[i])));
  }
  return max_error / max_value;
}

constexpr DType kActivationDTypes[] = {DType::f32, DType::bf16, DType::f16};

}  // namespace x2v::conformance
