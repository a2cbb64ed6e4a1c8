#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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
  // Row by row from the stored dtype (a strided weight is made contiguous first): no f32 copy of the
  // whole weight, one pass for amax and one for the values, at memory speed.
  const Tensor values = weight.is_contiguous() ? weight : weight.to_host(weight.dtype());
  const int64_t out = weight.size(0), in = weight.size(1);
  QuantizedWeight result{Tensor::host({out, in}, quant_storage_dtype(format)),
                         Tensor::host({out, 1}, DType::f32)};
  const char* source = static_cast<const char*>(values.raw_data());
  const DType dtype = values.dtype();
  const int64_t row_bytes = in * static_cast<int64_t>(dtype_size(dtype));
  float* scales = result.scale.data<float>();
  uint8_t* target = result.weight.data_u8();
  const float qmax = format_max(format);
  int64_t nonfinite_rows = 0;
#pragma omp parallel reduction(+ : nonfinite_rows) if (out * in >= (int64_t{1} << 16))
  {
    std::vector<float> row_values(dtype == DType::f32 ? 0 : static_cast<size_t>(in));
#pragma omp for schedule(static)
    for (int64_t row = 0; row < out; ++row) {
      // f32 rows are read where they are; bf16 and f16 rows are widened into the thread's buffer.
      const float* w = reinterpret_cast<const float*>(source + row * row_bytes);
      if (dtype != DType::f32) {
        convert_elements(source + row * row_bytes, dtype, row_values.data(), DType::f32,
                         static_cast<size_t>(in));
        w = row_values.data();
      }
      float amax = 0.0f;
      int nonfinite = 0;
#pragma omp simd reduction(max : amax) reduction(+ : nonfinite)
      for (int64_t i = 0; i < in; ++i) {
        const float magnitude = std::fabs(w[i]);
        nonfinite += !(magnitude <= std::numeric_limits<float>::max());  // inf and NaN
        amax = std::max(amax, magnitude);
      }
      nonfinite_rows += nonfinite > 0;
      const float scale = std::max(amax, kMinimumAmax) / qmax;
      scales[row] = scale;
      uint8_t* q = target + row * in;
      if (format == QuantFormat::int8) {
        // Clamp, then round half to even (as torch.round) by adding and taking away 1.5 * 2^23, which
        // vectorizes unlike nearbyint; |value| <= 128 is far inside its exact range.
#pragma omp simd
        for (int64_t i = 0; i < in; ++i) {
          const float clamped = std::min(127.0f, std::max(-128.0f, w[i] / scale));
          const float rounded = (clamped + 12582912.0f) - 12582912.0f;
          q[i] = static_cast<uint8_t>(static_cast<int8_t>(rounded));
        }
      } else {
        for (int64_t i = 0; i < in; ++i)
          q[i] = float_to_f8_e4m3(std::min(qmax, std::max(-qmax, w[i] / scale)));
      }
    }
  }
  if (nonfinite_rows > 0)
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
