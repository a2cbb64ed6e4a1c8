// Conformance of every conv kernel of every device under test against a naive fp64 convolution
// computed here: 2-D and 3-D, strides, asymmetric (causal) padding, dilation, patch embedding, 1x1x1,
// with and without batch dim and bias, every f32/bf16 combination of weight, input and output.
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

constexpr double kToleranceF32 = testing::kProductToleranceF32;  // support/tolerances.h
constexpr double kToleranceLowPrecision = testing::kProductToleranceLowPrecision;

constexpr DType kDTypes[] = {DType::f32, DType::bf16};

struct ConvCase {
  const char* label;
  int64_t in_channels, out_channels;
  Shape spatial;  // input extent per spatial dim
  Shape kernel;
  ConvOptions options;  // spatial_dims is set from kernel.size()
};

std::vector<float> random_values(int64_t count, std::mt19937& generator) {
  std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(generator);
  return values;
}

int64_t option_or(const std::vector<int64_t>& values, size_t index, int64_t fallback) {
  return values.empty() ? fallback : values[index];
}

// Naive fp64 convolution of x [N, C, spatial...] (3 spatial dims; 2-D cases get a unit depth).
struct Reference {
  Shape output_spatial;
  std::vector<double> values;
};

Reference reference_conv(const std::vector<float>& x, int64_t batch, int64_t in_channels, Shape spatial,
                         const std::vector<float>& weight, int64_t out_channels, Shape kernel,
                         const std::vector<float>& bias, const ConvOptions& options) {
  const size_t dims = spatial.size();
  Shape stride(3, 1), pad(3, 0), pad_end(3, 0), dilation(3, 1);
  for (size_t i = 0; i < dims; ++i) {
    const size_t at = 3 - dims + i;
    stride[at] = option_or(options.stride, i, 1);
    pad[at] = option_or(options.pad_begin, i, 0);
    pad_end[at] = option_or(options.pad_end, i, 0);
    dilation[at] = option_or(options.dilation, i, 1);
  }
  while (spatial.size() < 3) spatial.insert(spatial.begin(), 1);
  while (kernel.size() < 3) kernel.insert(kernel.begin(), 1);
  Shape out(3);
  for (int i = 0; i < 3; ++i)
    out[i] = (spatial[i] + pad[i] + pad_end[i] - (kernel[i] - 1) * dilation[i] - 1) / stride[i] + 1;
  Reference result;
  result.output_spatial.assign(out.end() - dims, out.end());
  const int64_t in_volume = spatial[0] * spatial[1] * spatial[2], out_volume = out[0] * out[1] * out[2];
  const int64_t kernel_volume = kernel[0] * kernel[1] * kernel[2];
  result.values.assign(batch * out_channels * out_volume, 0.0);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < out_channels; ++o)
      for (int64_t od = 0; od < out[0]; ++od)
        for (int64_t oh = 0; oh < out[1]; ++oh)
          for (int64_t ow = 0; ow < out[2]; ++ow) {
            double sum = bias.empty() ? 0.0 : bias[o];
            for (int64_t c = 0; c < in_channels; ++c)
              for (int64_t kd = 0; kd < kernel[0]; ++kd)
                for (int64_t kh = 0; kh < kernel[1]; ++kh)
                  for (int64_t kw = 0; kw < kernel[2]; ++kw) {
                    const int64_t id = od * stride[0] - pad[0] + kd * dilation[0];
                    const int64_t ih = oh * stride[1] - pad[1] + kh * dilation[1];
                    const int64_t iw = ow * stride[2] - pad[2] + kw * dilation[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= spatial[0] || ih >= spatial[1] ||
                        iw >= spatial[2])
                      continue;
                    const double input =
                        x[(n * in_channels + c) * in_volume + (id * spatial[1] + ih) * spatial[2] + iw];
                    const double w = weight[(o * in_channels + c) * kernel_volume +
                                            (kd * kernel[1] + kh) * kernel[2] + kw];
                    sum += input * w;
                  }
            result.values[(n * out_channels + o) * out_volume + (od * out[1] + oh) * out[2] + ow] = sum;
          }
  return result;
}

double relative_error(const std::vector<float>& actual, const std::vector<double>& expected) {
  double max_error = 0.0, max_magnitude = 1e-30;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(actual[i])) return INFINITY;
    max_error = std::max(max_error, std::abs(actual[i] - expected[i]));
    max_magnitude = std::max(max_magnitude, std::abs(expected[i]));
  }
  return max_error / max_magnitude;
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases;
  // Wan VAE causal conv: time padded 2 before / 0 after, space 1 / 1.
  cases.push_back({"causal 3x3x3", 3, 5, {4, 6, 7}, {3, 3, 3}, {3, {}, {2, 1, 1}, {0, 1, 1}, {}}});
  // Down-sampling conv with stride 2 and asymmetric spatial padding.
  cases.push_back(
      {"stride 2 asymmetric", 4, 6, {5, 7, 8}, {3, 3, 3}, {3, {2, 2, 2}, {1, 0, 1}, {0, 1, 1}, {}}});
  // DiT patch embedding: kernel 1x2x2, stride 1x2x2.
  cases.push_back({"patch 1x2x2", 4, 8, {2, 6, 8}, {1, 2, 2}, {3, {1, 2, 2}, {}, {}, {}}});
  cases.push_back({"pointwise 1x1x1", 9, 10, {2, 3, 5}, {1, 1, 1}, {3, {}, {}, {}, {}}});
  cases.push_back(
      {"dilated 3-D", 2, 3, {5, 6, 6}, {2, 3, 3}, {3, {1, 1, 2}, {1, 2, 0}, {0, 2, 1}, {2, 2, 1}}});
  cases.push_back({"2-D 3x3 stride 2", 5, 7, {9, 8}, {3, 3}, {2, {2, 2}, {1, 0}, {0, 1}, {}}});
  cases.push_back({"2-D dilated", 3, 16, {10, 9}, {3, 2}, {2, {1, 2}, {2, 1}, {2, 0}, {2, 3}}});
  cases.push_back({"2-D wide channels", 17, 9, {5, 6}, {3, 3}, {2, {}, {1, 1}, {1, 1}, {}}});
  return cases;
}

using conformance::devices_under_test;
using conformance::on_device;
using conformance::on_host;

std::vector<std::string> conv_kernel_names(Device& device) {
  return conformance::kernels_under_test(device.kernels().conv);
}

TEST(ConvConformance, SomeKernelIsRegistered) {
  for (Device* device : devices_under_test()) {
    EXPECT_FALSE(conv_kernel_names(*device).empty()) << device->name();
    EXPECT_FALSE(device->kernels().conv.default_name().empty()) << device->name();
  }
}

TEST(ConvConformance, EveryKernelMatchesFp64Reference) {
  for (Device* device : devices_under_test())
    for (const std::string& name : conv_kernel_names(*device)) {
      std::mt19937 generator(4321);
      for (const ConvCase& test_case : conv_cases())
        for (bool batched : {false, true})
          for (bool with_bias : {false, true})
            for (DType weight_dtype : kDTypes)
              for (DType x_dtype : kDTypes)
                for (DType out_dtype : kDTypes) {
                  const int64_t batch = batched ? 2 : 1;
                  Shape weight_shape{test_case.out_channels, test_case.in_channels};
                  weight_shape.insert(weight_shape.end(), test_case.kernel.begin(), test_case.kernel.end());
                  Shape x_shape{test_case.in_channels};
                  x_shape.insert(x_shape.end(), test_case.spatial.begin(), test_case.spatial.end());
                  if (batched) x_shape.insert(x_shape.begin(), batch);
                  const Tensor weight = Tensor::host_from(random_values(shape_numel(weight_shape), generator),
                                                          weight_shape, weight_dtype);
                  const Tensor bias =
                      with_bias ? Tensor::host_from(random_values(test_case.out_channels, generator),
                                                    {test_case.out_channels}, weight_dtype)
                                : Tensor();
                  const Tensor x =
                      Tensor::host_from(random_values(shape_numel(x_shape), generator), x_shape, x_dtype);
                  const Reference expected =
                      reference_conv(x.to_floats(), batch, test_case.in_channels, test_case.spatial,
                                     weight.to_floats(), test_case.out_channels, test_case.kernel,
                                     with_bias ? bias.to_floats() : std::vector<float>(), test_case.options);
                  Shape out_shape{test_case.out_channels};
                  out_shape.insert(out_shape.end(), expected.output_spatial.begin(),
                                   expected.output_spatial.end());
                  if (batched) out_shape.insert(out_shape.begin(), batch);

                  auto kernel = device->kernels().conv.create(name);
                  kernel->load(on_device(weight, *device), on_device(bias, *device), test_case.options);
                  ASSERT_EQ(kernel->output_shape(x_shape), out_shape) << name << " " << test_case.label;
                  Tensor out = empty(out_shape, out_dtype, *device);
                  kernel->apply(on_device(x, *device), out);
                  const bool all_f32 =
                      weight_dtype == DType::f32 && x_dtype == DType::f32 && out_dtype == DType::f32;
                  EXPECT_LE(relative_error(on_host(out).to_floats(), expected.values),
                            all_f32 ? kToleranceF32 : kToleranceLowPrecision)
                      << name << " " << test_case.label << (batched ? " batched" : "")
                      << (with_bias ? " bias" : "") << " weight " << dtype_name(weight_dtype) << " x "
                      << dtype_name(x_dtype) << " out " << dtype_name(out_dtype);
                }
    }
}

// One loaded kernel applied to several input shapes (cached primitives per shape) in mixed order.
TEST(ConvConformance, SeveralInputShapesReuseOneLoad) {
  for (Device* device : devices_under_test())
    for (const std::string& name : conv_kernel_names(*device)) {
      std::mt19937 generator(77);
      const ConvOptions options{3, {}, {2, 1, 1}, {0, 1, 1}, {}};
      const Tensor weight = Tensor::host_from(random_values(6 * 4 * 27, generator), {6, 4, 3, 3, 3});
      const Tensor bias = Tensor::host_from(random_values(6, generator), {6});
      auto kernel = device->kernels().conv.create(name);
      kernel->load(on_device(weight, *device), on_device(bias, *device), options);
      const Shape spatials[] = {{1, 4, 4}, {3, 5, 6}, {1, 4, 4}, {2, 8, 3}, {3, 5, 6}};
      for (const Shape& spatial : spatials) {
        const Shape x_shape{4, spatial[0], spatial[1], spatial[2]};
        const Tensor x = Tensor::host_from(random_values(shape_numel(x_shape), generator), x_shape);
        const Reference expected = reference_conv(x.to_floats(), 1, 4, spatial, weight.to_floats(), 6,
                                                  {3, 3, 3}, bias.to_floats(), options);
        Tensor out = empty(kernel->output_shape(x_shape), DType::f32, *device);
        kernel->apply(on_device(x, *device), out);
        EXPECT_LE(relative_error(on_host(out).to_floats(), expected.values), kToleranceF32)
            << name << " input " << shape_to_string(x_shape);
      }
    }
}

// The default conv keeps at most one copy of its weight in device memory: its own (packed) copy, or the
// caller's tensor, never both (the VAE's weights would otherwise stay twice in memory for the whole decode).
TEST(ConvConformance, DefaultConvKeepsOneCopyOfItsWeight) {
  for (Device* device : devices_under_test()) {
    std::mt19937 generator(5);
    const ConvOptions options{3, {}, {1, 1, 1}, {1, 1, 1}, {}};
    const Shape weight_shape{32, 16, 3, 3, 3};
    std::vector<float> values = random_values(shape_numel(weight_shape), generator);
    // From the device's allocator (on the cpu too), so its statistics see the weight.
    Tensor weight = empty(weight_shape, DType::f32, *device);
    device->copy(values.data(), weight.raw_data(), weight.nbytes(), CopyKind::host_to_device);
    const size_t one_copy = device->allocator().stats().current_bytes;
    auto kernel = device->kernels().conv.create("");
    kernel->load(weight, Tensor(), options);
    weight = Tensor();
    EXPECT_LE(device->allocator().stats().current_bytes, one_copy)
        << device->name() << ": the kernel holds its weight twice";
    const Shape x_shape{16, 2, 5, 5};
    const Tensor x = Tensor::host_from(random_values(shape_numel(x_shape), generator), x_shape);
    const Reference expected =
        reference_conv(x.to_floats(), 1, 16, {2, 5, 5}, values, 32, {3, 3, 3}, {}, options);
    Tensor out = empty(kernel->output_shape(x_shape), DType::f32, *device);
    kernel->apply(on_device(x, *device), out);
    EXPECT_LE(relative_error(on_host(out).to_floats(), expected.values), kToleranceF32) << device->name();
  }
}

TEST(ConvConformance, WrongShapesAreUserErrors) {
  for (Device* device : devices_under_test())
    for (const std::string& name : conv_kernel_names(*device)) {
      auto kernel = device->kernels().conv.create(name);
      kernel->load(empty({4, 3, 3, 3}, DType::f32, *device), Tensor(),
                   ConvOptions{2, {}, {1, 1}, {1, 1}, {}});
      Tensor out = empty({4, 5, 5}, DType::f32, *device);
      EXPECT_THROW(kernel->apply(empty({2, 5, 5}, DType::f32, *device), out), Error)
          << name << ": wrong channels";
      Tensor wrong_out = empty({4, 5, 6}, DType::f32, *device);
      EXPECT_THROW(kernel->apply(empty({3, 5, 5}, DType::f32, *device), wrong_out), Error)
          << name << ": wrong output";
      EXPECT_THROW(
          kernel->load(Tensor::host({4, 3, 3, 3}, DType::f32), Tensor(), ConvOptions{3, {}, {}, {}, {}}),
          Error)
          << name << ": 4-D weight for a 3-D conv";
    }
}

}  // namespace
}  // namespace x2v
