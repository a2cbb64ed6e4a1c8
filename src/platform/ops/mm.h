#pragma once
// Matmul-with-weight template: y = x W^T + b, W [out_features, in_features], x [..., in_features],
// y [..., out_features]. Weights are handed over once at load so a backend can pack or quantize them;
// apply then runs with fp32 accumulation whatever the storage dtype.
//
// Quantized weights follow LightX2V's (and LLMC's) layout: symmetric per output channel, W[o, i] =
// weight[o, i] * scale[o] with weight int8 or float8_e4m3fn. The template carries what every backend
// shares (the layout checks and the per-token activation quantization of W8A8) so a backend plugs in
// only its GEMM.
#include <cstdint>

#include "core/tensor.h"

namespace x2v {

// How a quantized weight stores its values. `none`: a plain f32/bf16/f16 weight.
enum class QuantFormat : uint8_t { none, int8, fp8_e4m3 };

// "none", "int8", "fp8" (LightX2V's names for the formats, as in its scheme names).
const char* quant_format_name(QuantFormat format);
// The dtype `format` stores its values in: i8 or f8_e4m3 (InternalError for none).
DType quant_storage_dtype(QuantFormat format);
// The format of a weight of `dtype`: int8 for i8, fp8_e4m3 for f8_e4m3, none otherwise.
QuantFormat quant_format_of(DType dtype);

// A weight quantized symmetrically per output channel (LightX2V's `<name>.weight` + `<name>.weight_scale`).
struct QuantizedWeight {
  Tensor weight;  // i8 or f8_e4m3 [out, in]
  Tensor scale;   // f32 [out, 1] (LightX2V's shape) or [out]

  QuantFormat format() const {
    return weight.defined() ? quant_format_of(weight.dtype()) : QuantFormat::none;
  }
};

class MatmulKernel {
 public:
  virtual ~MatmulKernel() = default;
  // `bias` may be undefined. Kernels may keep references to (or copies of) the tensors.
  virtual void load(const Tensor& weight, const Tensor& bias) = 0;
  // Quantized weights, for kernels whose quantized_format() is not none. The default throws Error
  // ("this kernel does not take quantized weights").
  virtual void load_quantized(const QuantizedWeight& weight, const Tensor& bias);
  // The format load_quantized takes; none for kernels of unquantized weights (they take load()).
  virtual QuantFormat quantized_format() const { return QuantFormat::none; }
  virtual void apply(const Tensor& x, Tensor& y) = 0;
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 protected:
  // Validates the weight/bias pair and records the feature counts.
  void check_weights(const Tensor& weight, const Tensor& bias);
  // Validates a quantized weight of `expected` format (dtype, shapes, scale layout) and its bias, and
  // records the feature counts. Errors name what is wrong and the fix.
  void check_quantized_weights(const QuantizedWeight& weight, const Tensor& bias, QuantFormat expected);
  // Validates x and y against the loaded weight.
  void check_call(const Tensor& x, const Tensor& y) const;

  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
};

// Per-token (per-row) dynamic symmetric int8 quantization of activations, the "A8" of W8A8:
// scale = amax(|x|) / 127, q = round_half_even(x / scale) clamped to [-128, 127] (all in f32); a row
// of zeros gets q = 0 and scale 0. Returns the scale. Every backend must produce these exact q.
float quantize_row_int8(const float* x, int64_t count, int8_t* q);

}  // namespace x2v
