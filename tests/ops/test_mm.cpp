// Conformance of every mm kernel of every device under test against a naive fp64 matmul computed here, on
// seeded random inputs, for every weight/bias/input/output dtype combination and odd shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "conformance.h"
#include "platform/platform.h"

namespace x2v {
namespace {

// Largest allowed |kernel - reference| relative to the largest |reference| (support/tolerances.h).
constexpr double kToleranceF32 = testing::kProductToleranceF32;
constexpr double kToleranceLowPrecision = testing::kProductToleranceLowPrecision;

constexpr DType kWeightDTypes[] = {DType::f32, DType::bf16, DType::f16};
constexpr DType kActivationDTypes[] = {DType::f32, DType::bf16};

struct MmShape {
  int64_t rows, in_features, out_features;
};

std::vector<float> random_values(int64_t count, std::mt19937& generator) {
  std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(generator);
  return values;
}

// y = x W^T + b in fp64 from the values the kernel receives (already rounded to their dtypes).
std::vector<double> reference_mm(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const std::vector<float> xs = x.to_floats(), ws = weight.to_floats();
  const std::vector<float> bs = bias.defined() ? bias.to_floats() : std::vector<float>();
  const int64_t in_features = weight.size(1), out_features = weight.size(0);
  const int64_t rows = x.numel() / in_features;
  std::vector<double> result(rows * out_features);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t out = 0; out < out_features; ++out) {
      double sum = bs.empty() ? 0.0 : bs[out];
      for (int64_t k = 0; k < in_features; ++k)
        sum += static_cast<double>(xs[row * in_features + k]) * ws[out * in_features + k];
      result[row * out_features + out] = sum;
    }
  return result;
}

// Max |actual - expected| / max |expected| (max |expected| floored at 1e-30).
double relative_error(const std::vector<float>& actual, const std::vector<double>& expected) {
  double max_error = 0.0, max_magnitude = 1e-30;
  for (size_t i = 0; i < expected.size(); ++i) {
    max_error = std::max(max_error, std::abs(actual[i] - expected[i]));
    max_magnitude = std::max(max_magnitude, std::abs(expected[i]));
    if (std::isnan(actual[i])) return INFINITY;
  }
  return max_error / max_magnitude;
}

using conformance::devices_under_test;
using conformance::on_device;
using conformance::on_host;

// Kernels of float weights; the quantized ones take load_quantized() and have their own suite
// (test_mm_quant.cpp).
std::vector<std::string> mm_kernel_names(Device& device) {
  std::vector<std::string> names;
  for (const std::string& name : conformance::kernels_under_test(device.kernels().mm))
    if (device.kernels().mm.traits(name).quant == QuantFormat::none) names.push_back(name);
  return names;
}

TEST(MmConformance, SomeKernelIsRegistered) {
  for (Device* device : devices_under_test()) {
    EXPECT_FALSE(mm_kernel_names(*device).empty()) << device->name();
    EXPECT_EQ(device->kernels().mm.resolve("Default"), device->kernels().mm.default_name());
  }
}

TEST(MmConformance, EveryKernelMatchesFp64Reference) {
  std::vector<MmShape> shapes;
  for (int64_t rows : {1, 7, 33})
    for (int64_t in_features : {3, 64, 100})
      for (int64_t out_features : {5, 128}) shapes.push_back({rows, in_features, out_features});
  for (Device* device : devices_under_test())
    for (const std::string& name : mm_kernel_names(*device)) {
      std::mt19937 generator(1234);
      int cases = 0;
      for (const MmShape& shape : shapes)
        for (DType weight_dtype : kWeightDTypes)
          for (int bias_kind = 0; bias_kind < 3; ++bias_kind) {  // none, f32, bf16
            const Tensor weight =
                Tensor::host_from(random_values(shape.out_features * shape.in_features, generator),
                                  {shape.out_features, shape.in_features}, weight_dtype);
            const Tensor bias =
                bias_kind == 0
                    ? Tensor()
                    : Tensor::host_from(random_values(shape.out_features, generator), {shape.out_features},
                                        bias_kind == 1 ? DType::f32 : DType::bf16);
            // One load serves every activation dtype pair, as one layer does across a run.
            auto kernel = device->kernels().mm.create(name);
            kernel->load(on_device(weight, *device), on_device(bias, *device));
            for (DType x_dtype : kActivationDTypes)
              for (DType y_dtype : kActivationDTypes) {
                const Tensor x = Tensor::host_from(random_values(shape.rows * shape.in_features, generator),
                                                   {shape.rows, shape.in_features}, x_dtype);
                Tensor y = empty({shape.rows, shape.out_features}, y_dtype, *device);
                kernel->apply(on_device(x, *device), y);
                const bool all_f32 =
                    weight_dtype == DType::f32 && x_dtype == DType::f32 && y_dtype == DType::f32;
                const double tolerance = all_f32 ? kToleranceF32 : kToleranceLowPrecision;
                const double error = relative_error(on_host(y).to_floats(), reference_mm(x, weight, bias));
                EXPECT_LE(error, tolerance)
                    << name << " M=" << shape.rows << " K=" << shape.in_features
                    << " N=" << shape.out_features << " weight " << dtype_name(weight_dtype) << " bias "
                    << bias_kind << " x " << dtype_name(x_dtype) << " y " << dtype_name(y_dtype);
                ++cases;
              }
          }
      EXPECT_GT(cases, 0) << name;
    }
}

// One kernel serves many row counts (and leading dims) in any order: cached primitives must not
// confuse shapes, and a second call of a shape must give the same answer as the first.
TEST(MmConformance, RepeatedAndMixedRowCountsReuseOneLoad) {
  for (Device* device : devices_under_test())
    for (const std::string& name : mm_kernel_names(*device)) {
      std::mt19937 generator(99);
      const Tensor weight = Tensor::host_from(random_values(128 * 64, generator), {128, 64}, DType::f32);
      const Tensor bias = Tensor::host_from(random_values(128, generator), {128}, DType::f32);
      auto kernel = device->kernels().mm.create(name);
      kernel->load(on_device(weight, *device), on_device(bias, *device));
      const Shape input_shapes[] = {{7, 64}, {2, 3, 64}, {7, 64}, {1, 64}, {2, 3, 64}, {33, 64}};
      for (const Shape& input_shape : input_shapes) {
        const Tensor x = Tensor::host_from(random_values(shape_numel(input_shape), generator), input_shape);
        Shape output_shape = input_shape;
        output_shape.back() = 128;
        Tensor y = empty(output_shape, DType::f32, *device);
        kernel->apply(on_device(x, *device), y);
        EXPECT_LE(relative_error(on_host(y).to_floats(), reference_mm(x, weight, bias)), kToleranceF32)
            << name << " input " << shape_to_string(input_shape);
      }
    }
}

// Large enough (x and W over 32k elements, not multiples of a chunk) for kernels to split conversions
// and products across threads; the small shapes above stay on one thread.
TEST(MmConformance, ThreadedSizesWithLowPrecisionOperands) {
  for (Device* device : devices_under_test())
    for (const std::string& name : mm_kernel_names(*device)) {
      std::mt19937 generator(2024);
      const Tensor weight = Tensor::host_from(random_values(260 * 130, generator), {260, 130}, DType::bf16);
      const Tensor bias = Tensor::host_from(random_values(260, generator), {260}, DType::bf16);
      const Tensor x = Tensor::host_from(random_values(301 * 130, generator), {301, 130}, DType::bf16);
      Tensor y = empty({301, 260}, DType::bf16, *device);
      auto kernel = device->kernels().mm.create(name);
      kernel->load(on_device(weight, *device), on_device(bias, *device));
      kernel->apply(on_device(x, *device), y);
      EXPECT_LE(relative_error(on_host(y).to_floats(), reference_mm(x, weight, bias)), kToleranceLowPrecision)
          << name;
    }
}

// A weight given as a transposed (non-contiguous) view must be read by its logical layout.
TEST(MmConformance, NonContiguousWeightView) {
  for (Device* device : devices_under_test())
    for (const std::string& name : mm_kernel_names(*device)) {
      std::mt19937 generator(5);
      const Tensor stored = Tensor::host_from(random_values(64 * 40, generator), {64, 40}, DType::f32);
      const Tensor weight = stored.transpose(0, 1);  // [40, 64], strides [1, 40]
      const Tensor x = Tensor::host_from(random_values(9 * 64, generator), {9, 64});
      Tensor y = empty({9, 40}, DType::f32, *device);
      auto kernel = device->kernels().mm.create(name);
      kernel->load(on_device(weight, *device), Tensor());
      kernel->apply(on_device(x, *device), y);
      EXPECT_LE(relative_error(on_host(y).to_floats(), reference_mm(x, weight, Tensor())), kToleranceF32)
          << name;
    }
}

TEST(MmConformance, WrongShapesAreUserErrors) {
  for (Device* device : devices_under_test())
    for (const std::string& name : mm_kernel_names(*device)) {
      auto kernel = device->kernels().mm.create(name);
      kernel->load(empty({16, 8}, DType::f32, *device), Tensor());
      Tensor y = empty({4, 16}, DType::f32, *device);
      EXPECT_THROW(kernel->apply(empty({4, 9}, DType::f32, *device), y), Error)
          << name << ": wrong input width";
      Tensor wrong_y = empty({4, 15}, DType::f32, *device);
      EXPECT_THROW(kernel->apply(empty({4, 8}, DType::f32, *device), wrong_y), Error)
          << name << ": wrong output width";
      EXPECT_THROW(kernel->load(empty({16, 8}, DType::f32, *device), empty({15}, DType::f32, *device)), Error)
          << name << ": bias length";
    }
}

}  // namespace
}  // namespace x2v
