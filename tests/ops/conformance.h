#pragma once
// Helpers for the conformance suite: seeded random inputs, the kernels and devices under test, and an error
// measure against the reference. Every category's test runs every kernel of every device under test
// (support/test_device.h) on that device's memory; tolerances per dtype live in support/tolerances.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "support/test_device.h"
#include "support/tolerances.h"

namespace x2v::conformance {

using testing::devices_under_test;
using testing::on_device;
using testing::on_host;

inline Tensor random_tensor(const Shape& shape, DType dtype, uint32_t seed, float scale = 1.0f) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(shape_numel(shape));
  for (float& value : values) value = normal(generator);
  return Tensor::host_from(values, shape, dtype);
}

// Max abs error over max abs value of the reference; `actual` may live on any device.
inline double relative_error(const Tensor& actual_anywhere, const Tensor& expected) {
  const Tensor actual = on_host(actual_anywhere);
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

inline double tolerance(DType output_dtype) {
  return testing::kernel_tolerance(output_dtype);
}

// The kernels of `registry` the suite runs: every native kernel, and of the host fallbacks (the host's own
// kernels through copies, proven on the host) only the default, which proves the copies.
template <class Registry>
std::vector<std::string> kernels_under_test(const Registry& registry) {
  std::vector<std::string> names;
  for (const std::string& name : registry.names())
    if (!registry.traits(name).host_fallback || name == registry.default_name() ||
        name == registry.default_name(QuantFormat::int8) ||
        name == registry.default_name(QuantFormat::fp8_e4m3))
      names.push_back(name);
  return names;
}

constexpr DType kActivationDTypes[] = {DType::f32, DType::bf16, DType::f16};

}  // namespace x2v::conformance
