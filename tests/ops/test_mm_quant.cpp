// Conformance of the quantized mm kernels (every kernel of the devices under test whose traits name a weight
// format other than none) against the portable reference of their format ("int8-torch", "fp8-torch"), plus
// the weight quantizer (src/quant) and per-token activation quantization on hand-checked values, exact int8
// products at the saturation-prone extremes, and the errors for misfitting weights and scales.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "conformance.h"
#include "platform/platform.h"
#include "quant/quantize.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::expect_error_mentioning;

constexpr double kToleranceF32 = testing::kProductToleranceF32;  // support/tolerances.h
constexpr double kToleranceLowPrecision = testing::kProductToleranceLowPrecision;

constexpr DType kActivationDTypes[] = {DType::f32, DType::bf16, DType::f16};

std::vector<float> random_values(int64_t count, std::mt19937& generator, float scale = 1.0f) {
  std::normal_distribution<float> distribution(0.0f, scale);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(generator);
  return values;
}

double relative_error(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = actual.to_floats(), e = expected.to_floats();
  double max_error = 0.0, max_magnitude = 1e-30;
  for (size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(e[i])) return INFINITY;
    max_error = std::max(max_error, std::fabs(static_cast<double>(a[i]) - e[i]));
    max_magnitude = std::max(max_magnitude, std::fabs(static_cast<double>(e[i])));
  }
  return max_error / max_magnitude;
}

std::vector<std::string> quantized_kernel_names(Device& device = host_device()) {
  std::vector<std::string> names;
  for (const std::string& name : conformance::kernels_under_test(device.kernels().mm))
    if (device.kernels().mm.traits(name).quant != QuantFormat::none) names.push_back(name);
  return names;
}

std::string reference_name(QuantFormat format) {
  return format == QuantFormat::int8 ? "int8-torch" : "fp8-torch";
}

// Runs kernel `name` of `device` on copies there; the result comes back to the host.
Tensor run(const std::string& name, const QuantizedWeight& weight, const Tensor& bias, const Tensor& x,
           DType y_dtype, Device& device = host_device()) {
  auto kernel = device.kernels().mm.create(name);
  kernel->load_quantized(QuantizedWeight{conformance::on_device(weight.weight, device),
                                         conformance::on_device(weight.scale, device)},
                         conformance::on_device(bias, device));
  Shape shape = x.shape();
  shape.back() = weight.weight.size(0);
  Tensor y = empty(shape, y_dtype, device);
  kernel->apply(conformance::on_device(x, device), y);
  return conformance::on_host(y);
}

TEST(MmQuantConformance, LightX2VSchemesSelectTheDefaultOfTheirFormat) {
  for (Device* device : conformance::devices_under_test()) {
    auto& mm = device->kernels().mm;
    SCOPED_TRACE(device->name());
    ASSERT_FALSE(mm.default_name(QuantFormat::int8).empty());
    ASSERT_FALSE(mm.default_name(QuantFormat::fp8_e4m3).empty());
    for (const char* scheme : {"int8-vllm", "int8-sgl", "int8-q8f", "int8-triton", "int8-torchao"}) {
      EXPECT_EQ(mm.resolve(scheme), mm.default_name(QuantFormat::int8)) << scheme;
      EXPECT_EQ(mm.create(scheme)->quantized_format(), QuantFormat::int8) << scheme;
    }
    for (const char* scheme : {"fp8-vllm", "fp8-sgl", "fp8-q8f", "fp8-triton"}) {
      EXPECT_EQ(mm.resolve(scheme), mm.default_name(QuantFormat::fp8_e4m3)) << scheme;
      EXPECT_EQ(mm.create(scheme)->quantized_format(), QuantFormat::fp8_e4m3) << scheme;
    }
    EXPECT_EQ(mm.create("Default")->quantized_format(), QuantFormat::none);
    EXPECT_EQ(mm.create("int8-torch")->quantized_format(), QuantFormat::int8);
    EXPECT_EQ(mm.create("fp8-torch")->quantized_format(), QuantFormat::fp8_e4m3);
    for (const char* unsupported : {"nvfp4", "mxfp4", "gguf-Q4_K_M"})
      expect_error_mentioning([&] { mm.resolve(unsupported); },
                              std::string("unknown mm kernel '") + unsupported);
  }
}

TEST(MmQuantConformance, EveryQuantizedKernelMatchesItsReference) {
  struct Case {
    int64_t rows, in, out;
  };
  std::vector<Case> cases;
  for (int64_t rows : {1, 7, 33})
    for (int64_t in : {3, 64, 100, 129})
      for (int64_t out : {5, 16, 130}) cases.push_back({rows, in, out});
  for (Device* device : conformance::devices_under_test()) {
    const std::vector<std::string> names = quantized_kernel_names(*device);
    ASSERT_GE(names.size(), 2u) << device->name();
    for (const std::string& name : names) {
      const QuantFormat format = device->kernels().mm.traits(name).quant;
      std::mt19937 generator(77);
      int checked = 0;
      for (const Case& c : cases)
        for (int bias_kind = 0; bias_kind < 3; ++bias_kind) {  // none, f32, bf16
          const Tensor weight = Tensor::host_from(random_values(c.out * c.in, generator), {c.out, c.in});
          const QuantizedWeight quantized = quantize_weight(weight, format);
          const Tensor bias = bias_kind == 0 ? Tensor()
                                             : Tensor::host_from(random_values(c.out, generator), {c.out},
                                                                 bias_kind == 1 ? DType::f32 : DType::bf16);
          for (DType x_dtype : kActivationDTypes)
            for (DType y_dtype : kActivationDTypes) {
              const Tensor x =
                  Tensor::host_from(random_values(c.rows * c.in, generator, 3.0f), {c.rows, c.in}, x_dtype);
              const Tensor actual = run(name, quantized, bias, x, y_dtype, *device);
              const Tensor expected = run(reference_name(format), quantized, bias, x, DType::f32);
              const double tolerance = y_dtype == DType::f32 ? kToleranceF32 : kToleranceLowPrecision;
              EXPECT_LE(relative_error(actual, expected), tolerance)
                  << name << " M=" << c.rows << " K=" << c.in << " N=" << c.out << " bias " << bias_kind
                  << " x " << dtype_name(x_dtype) << " y " << dtype_name(y_dtype);
              ++checked;
            }
        }
      EXPECT_GT(checked, 0) << name;
    }
  }
}

// The references themselves against the unquantized product: W8A8 and fp8 stay within their
// quantization error (a few percent of the largest output), so the reference is not nonsense.
TEST(MmQuantConformance, ReferencesStayWithinQuantizationErrorOfTheExactProduct) {
  std::mt19937 generator(3);
  const Tensor weight = Tensor::host_from(random_values(96 * 256, generator), {96, 256});
  const Tensor x = Tensor::host_from(random_values(20 * 256, generator), {20, 256});
  Tensor exact = Tensor::host({20, 96}, DType::f32);
  auto plain = host_device().kernels().mm.create("torch");
  plain->load(weight, Tensor());
  plain->apply(x, exact);
  for (QuantFormat format : {QuantFormat::int8, QuantFormat::fp8_e4m3}) {
    const Tensor approximate =
        run(reference_name(format), quantize_weight(weight, format), Tensor(), x, DType::f32);
    const double error = relative_error(approximate, exact);
    EXPECT_LE(error, 0.05) << quant_format_name(format);
    EXPECT_GT(error, 1e-5) << quant_format_name(format) << ": the reference did not quantize";
  }
}

// Integer activations whose row amax is 127 quantize to themselves (scale 1), and unit weight scales
// make y the exact integer product: any saturation (as in 16-bit pair sums) shows as a wrong integer.
TEST(MmQuantConformance, Int8ProductsAreExactAtTheExtremes) {
  for (Device* device : conformance::devices_under_test())
    for (const std::string& name : quantized_kernel_names(*device)) {
      if (device->kernels().mm.create(name)->quantized_format() != QuantFormat::int8) continue;
      for (int64_t k : {999, 1000, 3001, 3004}) {  // odd K pads a pair; 3001 spans several K blocks
        const int64_t m = 13, n = 37;
        std::mt19937 generator(static_cast<uint32_t>(k));
        std::uniform_int_distribution<int> any(-127, 127);
        std::vector<float> xs(m * k);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t i = 0; i < k; ++i) {
            // Row 0: all +127; row 1: alternating +-127; others random with one +-127 to fix the scale.
            int value = r == 0 ? 127 : r == 1 ? (i % 2 ? -127 : 127) : any(generator);
            if (r > 1 && i == 0) value = r % 2 ? -127 : 127;
            xs[r * k + i] = static_cast<float>(value);
          }
        QuantizedWeight weight{Tensor::host({n, k}, DType::i8),
                               Tensor::host_from(std::vector<float>(n, 1.0f), {n, 1})};
        std::uniform_int_distribution<int> full(-128, 127);
        int8_t* w = weight.weight.data<int8_t>();
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < k; ++i)
            w[j * k + i] = static_cast<int8_t>(j == 0 ? -128 : j == 1 ? 127 : full(generator));
        const Tensor x = Tensor::host_from(xs, {m, k});
        const std::vector<float> y = run(name, weight, Tensor(), x, DType::f32, *device).to_floats();
        int wrong = 0;
        for (int64_t r = 0; r < m; ++r)
          for (int64_t j = 0; j < n; ++j) {
            int64_t exact = 0;
            for (int64_t i = 0; i < k; ++i) exact += static_cast<int64_t>(xs[r * k + i]) * w[j * k + i];
            wrong += y[r * n + j] != static_cast<float>(exact);
          }
        EXPECT_EQ(wrong, 0) << device->name() << " " << name << " K=" << k;
      }
    }
}

// One load serves many row counts (and leading dims) in any order; sizes large enough for threads.
TEST(MmQuantConformance, ThreadedAndMixedRowCountsReuseOneLoad) {
  for (const std::string& name : quantized_kernel_names()) {
    const QuantFormat format = host_device().kernels().mm.create(name)->quantized_format();
    std::mt19937 generator(11);
    const int64_t in = 1700, out = 260;  // 1700 inputs: two K blocks of the int8 kernel
    const QuantizedWeight weight = quantize_weight(
        Tensor::host_from(random_values(out * in, generator), {out, in}, DType::bf16), format);
    const Tensor bias = Tensor::host_from(random_values(out, generator), {out});
    auto kernel = host_device().kernels().mm.create(name);
    auto reference = host_device().kernels().mm.create(reference_name(format));
    kernel->load_quantized(weight, bias);
    reference->load_quantized(weight, bias);
    for (const Shape& shape : std::vector<Shape>{{301, in}, {2, 3, in}, {1, in}, {301, in}, {47, in}}) {
      const Tensor x = Tensor::host_from(random_values(shape_numel(shape), generator), shape, DType::bf16);
      Shape output = shape;
      output.back() = out;
      Tensor y = Tensor::host(output, DType::f32), expected = Tensor::host(output, DType::f32);
      kernel->apply(x, y);
      reference->apply(x, expected);
      EXPECT_LE(relative_error(y, expected), kToleranceF32) << name << " " << shape_to_string(shape);
    }
  }
}

// Wide and deep enough to cut the weight into several tiles both ways (fp8: more than 1024 columns and
// 2048 inputs; int8: more than one K block), so tiles must meet exactly and the bias come in once.
TEST(MmQuantConformance, LargeWeightsSpanSeveralTiles) {
  for (const std::string& name : quantized_kernel_names()) {
    const QuantFormat format = host_device().kernels().mm.create(name)->quantized_format();
    std::mt19937 generator(21);
    const int64_t in = 2100, out = 1030;
    const QuantizedWeight weight =
        quantize_weight(Tensor::host_from(random_values(out * in, generator), {out, in}), format);
    const Tensor bias = Tensor::host_from(random_values(out, generator), {out});
    const Tensor x = Tensor::host_from(random_values(5 * in, generator), {5, in}, DType::bf16);
    EXPECT_LE(relative_error(run(name, weight, bias, x, DType::f32),
                             run(reference_name(format), weight, bias, x, DType::f32)),
              kToleranceF32)
        << name;
  }
}

TEST(MmQuantConformance, MisfittingWeightsAndScalesAreNamedErrors) {
  std::mt19937 generator(5);
  const Tensor plain = Tensor::host_from(random_values(16 * 8, generator), {16, 8});
  const QuantizedWeight int8 = quantize_weight(plain, QuantFormat::int8);
  const QuantizedWeight fp8 = quantize_weight(plain, QuantFormat::fp8_e4m3);
  for (const std::string& name : quantized_kernel_names()) {
    const QuantFormat format = host_device().kernels().mm.create(name)->quantized_format();
    const QuantizedWeight& right = format == QuantFormat::int8 ? int8 : fp8;
    const QuantizedWeight& wrong = format == QuantFormat::int8 ? fp8 : int8;
    auto kernel = host_device().kernels().mm.create(name);
    expect_error_mentioning([&] { kernel->load(plain, Tensor()); }, "per-channel scales");
    expect_error_mentioning(
        [&] { kernel->load_quantized(wrong, Tensor()); },
        std::string(" is ") + quant_format_name(wrong.format()) + " but this kernel takes");
    expect_error_mentioning(
        [&] {
          kernel->load_quantized({right.weight, Tensor()}, Tensor());
        },
        "is missing");
    expect_error_mentioning(
        [&] {
          kernel->load_quantized({right.weight, Tensor::host({16, 2}, DType::f32)}, Tensor());
        },
        "expected f32[16, 1]");
    expect_error_mentioning(
        [&] {
          kernel->load_quantized({right.weight, Tensor::host({15, 1}, DType::f32)}, Tensor());
        },
        "expected f32[16, 1]");
    expect_error_mentioning(
        [&] {
          kernel->load_quantized({right.weight, right.scale.to_host(DType::bf16)}, Tensor());
        },
        "expected f32[16, 1]");
    expect_error_mentioning(
        [&] {
          kernel->load_quantized({plain, right.scale}, Tensor());
        },
        "is not quantized");
    expect_error_mentioning([&] { kernel->load_quantized(right, Tensor::host({15}, DType::f32)); }, "bias");
    kernel->load_quantized({right.weight, right.scale.reshape({16})}, Tensor());  // [out] scales are fine
    Tensor y = Tensor::host({4, 16}, DType::f32);
    EXPECT_THROW(kernel->apply(Tensor::host({4, 9}, DType::f32), y), Error) << name;
  }
  for (const std::string& unquantized : {host_device().kernels().mm.default_name(), std::string("torch")}) {
    auto kernel = host_device().kernels().mm.create(unquantized);
    expect_error_mentioning([&] { kernel->load_quantized(int8, Tensor()); }, "takes unquantized");
  }
}

TEST(QuantizeWeight, Int8RoundsHalfToEvenAndClampsLikeLightX2V) {
  // amax 127 gives scale 1, so q = round(w): ties go to even.
  const Tensor weight = Tensor::host_from({127.0f, 2.5f, -2.5f, 3.5f, -0.5f, 0.49f}, {1, 6});
  const QuantizedWeight q = quantize_weight(weight, QuantFormat::int8);
  EXPECT_EQ(q.weight.dtype(), DType::i8);
  EXPECT_EQ(q.scale.shape(), (Shape{1, 1}));
  EXPECT_EQ(q.scale.to_floats()[0], 1.0f);
  EXPECT_EQ(q.weight.to_floats(), (std::vector<float>{127, 2, -2, 4, -0, 0}));
  // scale = amax / 127 in f32 and q = round(w / scale), element by element.
  const Tensor row = Tensor::host_from({0.5f, -1.0f, 0.25f, 0.1f}, {1, 4});
  const QuantizedWeight r = quantize_weight(row, QuantFormat::int8);
  const float scale = 1.0f / 127.0f;
  EXPECT_EQ(r.scale.to_floats()[0], scale);
  EXPECT_EQ(r.weight.to_floats(),
            (std::vector<float>{std::nearbyint(0.5f / scale), -127.0f, std::nearbyint(0.25f / scale),
                                std::nearbyint(0.1f / scale)}));
}

TEST(QuantizeWeight, ZeroRowsGetTheClampedScale) {
  const Tensor weight = Tensor::host_from({0, 0, 0, 1, -2, 0}, {2, 3}, DType::bf16);
  for (QuantFormat format : {QuantFormat::int8, QuantFormat::fp8_e4m3}) {
    const QuantizedWeight q = quantize_weight(weight, format);
    const float qmax = format == QuantFormat::int8 ? 127.0f : 448.0f;
    EXPECT_EQ(q.scale.to_floats()[0], 1e-5f / qmax);
    EXPECT_EQ(q.scale.to_floats()[1], 2.0f / qmax);
    const std::vector<float> values = q.weight.to_floats();
    EXPECT_EQ(values[0], 0.0f);
    EXPECT_EQ(values[4], -qmax);
  }
}

TEST(QuantizeWeight, Fp8IsTheE4m3CastOfTheScaledWeight) {
  std::mt19937 generator(9);
  const Tensor weight = Tensor::host_from(random_values(8 * 300, generator), {8, 300});
  const QuantizedWeight q = quantize_weight(weight, QuantFormat::fp8_e4m3);
  EXPECT_EQ(q.weight.dtype(), DType::f8_e4m3);
  const std::vector<float> w = weight.to_floats(), scales = q.scale.to_floats();
  const uint8_t* bits = q.weight.data_u8();
  for (int64_t row = 0; row < 8; ++row) {
    float amax = 0;
    for (int64_t i = 0; i < 300; ++i) amax = std::max(amax, std::fabs(w[row * 300 + i]));
    EXPECT_EQ(scales[row], amax / 448.0f);
    for (int64_t i = 0; i < 300; ++i)
      ASSERT_EQ(bits[row * 300 + i], float_to_f8_e4m3(w[row * 300 + i] / scales[row])) << row << "," << i;
  }
  // The largest magnitude of each row lands on +-448, the top of e4m3.
  const Tensor dequantized = dequantize_weight(q);
  for (int64_t row = 0; row < 8; ++row) {
    float amax = 0, top = 0;
    for (int64_t i = 0; i < 300; ++i) {
      amax = std::max(amax, std::fabs(w[row * 300 + i]));
      top = std::max(top, std::fabs(f8_e4m3_to_float(bits[row * 300 + i])));
    }
    EXPECT_EQ(top, 448.0f);
  }
  EXPECT_LE(relative_error(dequantized, weight),
            0.07);  // 3 mantissa bits: within 2^-4 of each value's magnitude
}

TEST(QuantizeWeight, NonFiniteWeightsAreErrors) {
  const Tensor weight = Tensor::host_from({1.0f, NAN, 2.0f, 3.0f}, {2, 2});
  expect_error_mentioning([&] { quantize_weight(weight, QuantFormat::int8); }, "NaN or infinite");
  expect_error_mentioning([&] { quantize_weight(Tensor::host({4}, DType::f32), QuantFormat::int8); },
                          "expected [out_features, in_features]");
}

TEST(QuantizeActivations, PerTokenRowsRoundHalfToEven) {
  const std::vector<float> row = {-127.0f, 0.5f, 1.5f, -2.5f, 100.2f};
  std::vector<int8_t> q(row.size());
  EXPECT_EQ(quantize_row_int8(row.data(), 5, q.data()), 1.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{-127, 0, 2, -2, 100}));
  const std::vector<float> zeros(4, 0.0f);
  std::vector<int8_t> zq(4, 9);
  EXPECT_EQ(quantize_row_int8(zeros.data(), 4, zq.data()), 0.0f);
  EXPECT_EQ(zq, std::vector<int8_t>(4, 0));
  const std::vector<float> broken = {1.0f, INFINITY};
  std::vector<int8_t> bq(2);
  EXPECT_TRUE(std::isnan(quantize_row_int8(broken.data(), 2, bq.data())));
}

// A row of NaN stays NaN through a W8A8 kernel (it must not turn into integers).
TEST(MmQuantConformance, NonFiniteActivationsGiveNaNRows) {
  for (const std::string& name : quantized_kernel_names()) {
    const QuantFormat format = host_device().kernels().mm.create(name)->quantized_format();
    const QuantizedWeight weight = quantize_weight(Tensor::host_from({1, 2, 3, 4, 5, 6}, {2, 3}), format);
    const Tensor x = Tensor::host_from({1, NAN, 2, 1, 2, 3}, {2, 3});
    const std::vector<float> y = run(name, weight, Tensor(), x, DType::f32).to_floats();
    EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1])) << name;
    EXPECT_TRUE(std::isfinite(y[2]) && std::isfinite(y[3])) << name;
  }
}

}  // namespace
}  // namespace x2v
