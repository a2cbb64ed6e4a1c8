#include "quant/quantize.h"

#include <algorithm>
#include <cmath>

namespace x2v {
namespace {

// LightX2V clamps amax so that an all-zero row gets a tiny positive scale (its q are all zero).
constexpr float kMinimumAmax = 1e-5f;

float format_max(QuantFormat format) {
  return format == QuantFormat::int8 ? 127.0f : 448.0f;
}

}  // namespace

QuantizedWeight quantize_weight(const Tensor& weight, QuantFormat format) {
  if (format == QuantFormat::none) throw InternalError("quant", "quantize_weight to an unquantized format");
  if (!weight.defined() || weight.ndim() != 2)
    throw Error("quant", concat("weight is ", weight.describe(), "; expected [out_features, in_features]"));
  if (weight.dtype() != DType::f32 && weight.dtype() != DType::bf16 && weight.dtype() != DType::f16)
    throw Error("quant",
                concat("weight ", weight.describe(), " is not an f32/bf16/f16 weight; only those quantize"));
  if (!weight.is_host_accessible())
    throw Error("quant", concat("weight ", weight.describe(), " is not in host memory"));
  const Tensor values = weight.to_host(DType::f32);  // contiguous; bf16/f16 -> f32 is exact
  const int64_t out = weight.size(0), in = weight.size(1);
  QuantizedWeight result{Tensor::host({out, in}, quant_storage_dtype(format)),
                         Tensor::host({out, 1}, DType::f32)};
  const float* source = values.data<float>();
  float* scales = result.scale.data<float>();
  uint8_t* target = result.weight.data_u8();
  const float qmax = format_max(format);
  bool finite = true;
#pragma omp parallel for schedule(static) reduction(&& : finite) if (out * in >= (int64_t{1} << 16))
  for (int64_t row = 0; row < out; ++row) {
    const float* w = source + row * in;
    float amax = 0.0f;
    for (int64_t i = 0; i < in; ++i) {
      amax = std::max(amax, std::fabs(w[i]));
      finite = finite && std::isfinite(w[i]);
    }
    const float scale = std::max(amax, kMinimumAmax) / qmax;
    scales[row] = scale;
    uint8_t* q = target + row * in;
    if (format == QuantFormat::int8) {
      for (int64_t i = 0; i < in; ++i) {
        const float rounded = std::nearbyint(w[i] / scale);  // ties to even, as torch.round
        q[i] = static_cast<uint8_t>(static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, rounded))));
      }
    } else {
      for (int64_t i = 0; i < in; ++i) q[i] = float_to_f8_e4m3(std::min(qmax, std::max(-qmax, w[i] / scale)));
    }
  }
  if (!finite)
    throw Error("quant", concat("weight ", weight.describe(),
                                " holds NaN or infinite values; it cannot be quantized"));
  return result;
}

Tensor dequantize_weight(const QuantizedWeight& weight) {
  const Tensor& q = weight.weight;
  if (weight.format() == QuantFormat::none || q.ndim() != 2 || !weight.scale.defined() ||
      weight.scale.numel() != q.size(0))
    throw Error("quant",
                concat("cannot dequantize weight ", q.describe(), " with scale ", weight.scale.describe()));
  const std::vector<float> values = q.to_floats();  // int8 and fp8 values are exact in f32
  const std::vector<float> scales = weight.scale.to_floats();
  const int64_t out = q.size(0), in = q.size(1);
  Tensor result = Tensor::host({out, in}, DType::f32);
  float* target = result.data<float>();
  for (int64_t row = 0; row < out; ++row)
    for (int64_t i = 0; i < in; ++i) target[row * in + i] = values[row * in + i] * scales[row];
  return result;
}

}  // namespace x2v
